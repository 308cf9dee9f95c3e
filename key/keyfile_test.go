package key_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/key"
)

func TestLoadKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	k, _ := fastopen.NewKey()
	b, _ := fastopen.NewKey()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	all := []error{key.ErrKeyFileMissing, key.ErrKeyFileNotRegular, key.ErrKeyFilePermissions, key.ErrKeyFileEmpty, fastopen.ErrKeyLength, fastopen.ErrKeyNotHex}
	cases := []struct {
		name, path string
		want       error
		hint       string
	}{
		{"missing", filepath.Join(dir, "nope"), key.ErrKeyFileMissing, "fastopen key new"},
		{"directory", dir, key.ErrKeyFileNotRegular, "key file is not a regular file (a directory)"},
		{"world-readable", write("wr", k.String(), 0o644), key.ErrKeyFilePermissions, "chmod 600"},
		{"empty", write("empty", "# only a comment\n\n", 0o600), key.ErrKeyFileEmpty, "fastopen key new"},
		{"short", write("short", k.String()[:30], 0o600), fastopen.ErrKeyLength, "group 4"},
		{"not hex", write("nothex", strings.Replace(k.String(), k.String()[:1], "g", 1), 0o600), fastopen.ErrKeyNotHex, "group 1"},
		{"three keys", write("three", k.String()+","+b.String()+","+k.String(), 0o600), fastopen.ErrKeyLength, "at most one backup"},
		{"bad backup", write("badbackup", k.String()+"\nzz", 0o600), fastopen.ErrKeyLength, "backup key"},
	}
	for _, c := range cases {
		_, _, err := key.LoadKeyFile(c.path)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		for _, other := range all {
			if other != c.want && errors.Is(err, other) {
				t.Errorf("%s: error also matches %v", c.name, other)
			}
		}
		if !strings.Contains(err.Error(), c.hint) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %q should name the file and say %q", c.name, err, c.hint)
		}
		if strings.Contains(err.Error(), k.String()[9:17]) {
			t.Errorf("%s: error shows key material: %q", c.name, err)
		}
	}
	p, bk, err := key.LoadKeyFile(write("good", "# rotated\n"+k.String()+"\n"+b.String()+"\n", 0o600))
	if err != nil || p != k || bk == nil || *bk != b {
		t.Fatalf("good file with backup: %v", err)
	}
	good := filepath.Join(dir, "written")
	if err := key.WriteKeyFile(good, k, nil); err != nil {
		t.Fatal(err)
	}
	if p, bk, err := key.LoadKeyFile(good); err != nil || p != k || bk != nil {
		t.Fatalf("WriteKeyFile output does not load back: %v", err)
	}
}

// TestKeyWatcherKeepsPreviousKey: a watcher installs the file's key,
// reports a bad rewrite without installing anything, and installs the
// next good one.
func TestKeyWatcherKeepsPreviousKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tfo.key")
	k1, _ := fastopen.NewKey()
	k2, _ := fastopen.NewKey()
	if err := key.WriteKeyFile(path, k1, nil); err != nil {
		t.Fatal(err)
	}
	installed := make(chan fastopen.Key, 8)
	results := make(chan error, 8)
	w := &key.KeyWatcher{Path: path, Interval: 10 * time.Millisecond,
		Install:  func(p fastopen.Key, b *fastopen.Key) error { installed <- p; return nil },
		OnResult: func(err error) { results <- err }}
	if err := w.Load(); err != nil {
		t.Fatal(err)
	}
	if <-installed != k1 || <-results != nil {
		t.Fatal("initial load did not install the file's key")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	next := func() error {
		select {
		case err := <-results:
			return err
		case <-time.After(3 * time.Second):
			t.Fatal("watcher did not react to the file change")
			return nil
		}
	}
	os.WriteFile(path, []byte("not a key\n"), 0o600)
	if err := next(); !errors.Is(err, fastopen.ErrKeyLength) {
		t.Fatalf("bad rewrite: %v, want ErrKeyLength", err)
	}
	os.Chmod(path, 0o644)
	if err := next(); !errors.Is(err, key.ErrKeyFilePermissions) {
		t.Fatalf("chmod 644: %v, want ErrKeyFilePermissions", err)
	}
	if len(installed) != 0 {
		t.Fatal("a bad file replaced the installed key")
	}
	// An atomic rename, as Kubernetes and Vault agent do.
	if err := key.WriteKeyFile(path, k2, &k1); err != nil {
		t.Fatal(err)
	}
	if err := next(); err != nil || <-installed != k2 {
		t.Fatalf("good rewrite not installed: %v", err)
	}
	w.Reload()
	if err := next(); err != nil || <-installed != k2 {
		t.Fatalf("forced reload: %v", err)
	}
}

// TestKeyFileTooLarge: a key or secret file of 64 MiB (sparse) is refused
// as too large, naming its size and the bound, and neither the loaders
// nor a watcher read it: a load allocates far less than the file.
func TestKeyFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "huge")
	const size = 64 << 20
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("(%d bytes, at most %d)", size, key.MaxKeyFileSize)
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var kerr, serr, werr error
	results := 0
	w := &key.KeyWatcher{Path: path, OnResult: func(error) { results++ }}
	n := allocated(func() {
		_, _, kerr = key.LoadKeyFile(path)
		_, serr = key.LoadSecretFile(path)
		werr = w.Load()
		w.Load() // unchanged: not loaded again
	})
	for name, err := range map[string]error{"LoadKeyFile": kerr, "LoadSecretFile": serr, "KeyWatcher.Load": werr} {
		if !errors.Is(err, key.ErrKeyFileTooLarge) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrKeyFileTooLarge saying %q", name, err, want)
		}
	}
	if results != 2 {
		t.Errorf("watcher reported %d load attempts, want 2 (Load forces one each time)", results)
	}
	if n > 1<<20 {
		t.Errorf("loading a %d-byte file allocated %d bytes: it was read", size, n)
	}
	// Just within the bound: read, and refused for its content only.
	os.Truncate(path, key.MaxKeyFileSize)
	if _, _, err := key.LoadKeyFile(path); errors.Is(err, key.ErrKeyFileTooLarge) {
		t.Errorf("a file of exactly MaxKeyFileSize bytes: %v", err)
	}
}
