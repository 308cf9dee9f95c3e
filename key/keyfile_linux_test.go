package key_test

import (
	"errors"
	"os"
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

// TestWriteKeyFileRemovesStaleTemps: a temporary file left by a writer
// killed mid-write (".tfo.key.tmp123", nobody holds it) is removed by the
// next write; one that a live writer holds (locked), and files of other
// names, stay.
func TestWriteKeyFileRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tfo.key")
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("leftover key material\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := mk(".tfo.key.tmp1234567")
	live := mk(".tfo.key.tmp42")
	others := []string{mk(".tfo.key.tmp"), mk(".tfo.key.tmp12x"), mk(".other.key.tmp99"), mk("tfo.key.tmp5")}
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	k, _ := fastopen.NewKey()
	if err := key.WriteKeyFile(path, k, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale temporary file is still there (%v)", err)
	}
	for _, p := range append(others, live) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	if p, _, err := key.LoadKeyFile(path); err != nil || p != k {
		t.Errorf("the key file does not hold the key: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2+len(others) {
		t.Errorf("%d files in the directory, want %d: the write left its own temporary file", len(ents), 2+len(others))
	}
}
