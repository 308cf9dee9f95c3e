// Package labtest gives tests an isolated network namespace (a lab.Host)
// each, with TFO configured, and enforces the privilege rule: outside CI a
// test that needs root is skipped with a reason; in CI (CI=true) it fails,
// so a misconfigured runner cannot pass by skipping.
package labtest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/lab"
)

// InCI reports whether the tests run under CI (CI=true in the environment).
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedRoot skips (outside CI) or fails (in CI) a test when not running as
// root, which every namespace test needs.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this test needs root / CAP_NET_ADMIN to create network namespaces, and CI must run as root")
	}
	t.Skip("needs root / CAP_NET_ADMIN to create network namespaces; run the tests as root (see README)")
}

// NeedCommand makes sure an external program (curl, nginx, tshark,
// python3) is installed: missing, it skips outside CI and fails in CI.
// The README's test command installs all of them.
func NeedCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if InCI() {
		t.Fatalf("%s is not installed; the README test command installs it (apt-get install ...)", name)
	}
	t.Skipf("%s is not installed; run the README test command, which installs it", name)
	return ""
}

// Host creates a fresh namespace host with net.ipv4.tcp_fastopen set to
// mode, removed when the test ends.
func Host(t testing.TB, name string, mode int) *lab.Host {
	t.Helper()
	NeedRoot(t)
	h, err := lab.NewHost(lab.HostConfig{Name: name, FastOpen: mode, FastOpenSet: true})
	if err != nil {
		t.Fatalf("create host %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close host %s: %v", name, err)
		}
	})
	return h
}

// Lab builds a two-host lab (it needs root), closed when the test ends.
func Lab(t testing.TB, cfg lab.Config) *lab.Lab {
	t.Helper()
	NeedRoot(t)
	l, err := lab.New(cfg)
	if err != nil {
		t.Fatalf("build lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// Run runs fn inside h and fails the test on error.
func Run(t testing.TB, h *lab.Host, fn func() error) {
	t.Helper()
	if err := h.Run(fn); err != nil {
		t.Fatal(err)
	}
}

// Counters runs kernel.ReadCounters inside h: the counters of h's
// namespace. It fails the test on error.
func Counters(t testing.TB, h *lab.Host) kernel.Counters {
	t.Helper()
	var c kernel.Counters
	Run(t, h, func() (err error) {
		c, err = kernel.ReadCounters()
		return err
	})
	return c
}
