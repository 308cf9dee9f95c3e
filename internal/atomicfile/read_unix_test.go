//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadRegular: a file is read up to limit+1 bytes; a directory and a
// named pipe without a writer are refused at once, saying what they are.
func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		limit int64
		want  string
	}{{20, "0123456789"}, {10, "0123456789"}, {4, "01234"}} {
		if b, err := ReadRegular(f, c.limit); err != nil || string(b) != c.want {
			t.Errorf("limit %d: %q, %v; want %q", c.limit, b, err, c.want)
		}
	}
	if _, err := ReadRegular(dir, 10); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a directory") {
		t.Errorf("a directory: %v, want ErrNotRegular saying it is a directory", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Opening it for reading would block until a writer comes: the test
	// hangs (and times out) if ReadRegular opens it that way.
	if _, err := ReadRegular(fifo, 10); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a named pipe") {
		t.Errorf("a named pipe: %v, want ErrNotRegular saying it is a named pipe", err)
	}
	if _, err := ReadRegular(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want os.ErrNotExist", err)
	}
}
