package fastopen_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the library depends on the standard library and
// golang.org/x/sys only, so importing it costs no more than that. It fails
// naming any other package the root package imports, directly or not.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	for _, goos := range []string{"linux", "darwin", "windows", "freebsd"} {
		cmd := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/fastopen/fastopen")
		cmd.Env = append(cmd.Environ(), "GOOS="+goos)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("GOOS=%s go list -deps: %v\n%s", goos, err, out)
		}
		for _, p := range strings.Fields(string(out)) {
			if !allowedDependency(p) {
				t.Errorf("GOOS=%s: the fastopen package depends on %s; it may use the standard library, golang.org/x/sys and this module's packages that use only those", goos, p)
			}
		}
	}
}

// allowedDependency tells whether the root package may import p: x/sys
// or a package of this module (whose own imports are in the same list,
// since it is transitive).
func allowedDependency(p string) bool {
	for _, prefix := range []string{"golang.org/x/sys", "github.com/fastopen/fastopen"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}
