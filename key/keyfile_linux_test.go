package key_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/key"
)

// TestKeyWatcherNamedPipe: a key file path that names a named pipe with
// no writer (reading it would block for ever) is reported as not a
// regular file, by LoadKeyFile and by a watcher, without blocking.
func TestKeyWatcherNamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tfo.key")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := key.LoadKeyFile(path); !errors.Is(err, key.ErrKeyFileNotRegular) {
		t.Fatalf("LoadKeyFile on a named pipe: %v, want ErrKeyFileNotRegular", err)
	}
	done := make(chan error, 1)
	w := &key.KeyWatcher{Path: path, Install: func(fastopen.Key, *fastopen.Key) error { return nil }}
	go func() { done <- w.Load() }()
	select {
	case err := <-done:
		if !errors.Is(err, key.ErrKeyFileNotRegular) {
			t.Fatalf("watcher Load on a named pipe: %v, want ErrKeyFileNotRegular", err)
		}
	case <-time.After(3 * time.Second):
		// Unblock the reader so the test can end.
		if f, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(f)
		}
		t.Fatal("watcher Load blocked on a named pipe")
	}
}
