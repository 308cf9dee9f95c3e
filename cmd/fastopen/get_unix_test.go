//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGetCAFile: a --ca that is no certificate file is refused at once,
// saying why: a named pipe (opening it for reading would wait for a
// writer), a directory, a file over the size bound.
func TestGetCAFile(t *testing.T) {
	dir := t.TempDir()
	fifo, big := filepath.Join(dir, "fifo"), filepath.Join(dir, "big.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, maxCAFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ca, want string }{
		{fifo, "is a named pipe, not a regular file"},
		{dir, "is a directory, not a regular file"},
		{big, "larger than the 1048576 bytes allowed"},
	} {
		_, stderr, code := runCLIWithin(t, 10*time.Second, "get", "https://127.0.0.1:1/", "--ca", tc.ca)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("get --ca %s: exit %d, stderr %q; want exit 1 and %q", tc.ca, code, stderr, tc.want)
		}
	}
}
