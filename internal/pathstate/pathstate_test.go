package pathstate

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
)

func entry(addr string, failures int, t time.Time) fastopen.PathEntry {
	return fastopen.PathEntry{Addr: netip.MustParseAddr(addr), Failures: failures, Cause: fastopen.ReasonCookieRequestLost,
		AvoidUntil: t.Add(time.Hour), LastFailure: t, LastUsed: t}
}

func TestSaveLoadMerge(t *testing.T) {
	name := filepath.Join(t.TempDir(), "sub", "paths.json")
	now := time.Now().Round(0)
	a := &fastopen.PathMemory{}
	a.Restore([]fastopen.PathEntry{entry("192.0.2.1", 1, now)})
	if err := Save(name, a); err != nil {
		t.Fatal(err)
	}
	// Another run, started before, saves what it knows: both survive.
	b := &fastopen.PathMemory{}
	b.Restore([]fastopen.PathEntry{entry("192.0.2.2", 2, now)})
	if err := Save(name, b); err != nil {
		t.Fatal(err)
	}
	c := &fastopen.PathMemory{}
	if err := Load(name, c); err != nil {
		t.Fatal(err)
	}
	es := c.Entries()
	if len(es) != 2 || es[0].Failures != 1 || es[1].Failures != 2 || es[1].Cause != fastopen.ReasonCookieRequestLost || !es[1].AvoidUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("loaded %+v, want both runs' entries", es)
	}
	if fi, err := os.Stat(name); err != nil || fi.Size() > MaxFileSize {
		t.Fatalf("file: %v, %v", fi, err)
	}
}

func TestCorruptFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage":  "{not json",
		"version":  `{"version": 99, "paths": []}`,
		"too-big":  `{"version": 1, "paths": [], "pad": "` + strings.Repeat("x", MaxFileSize) + `"}`,
		"wrong-ip": `{"version": 1, "paths": [{"addr": "not an address"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, name)
			os.WriteFile(f, []byte(content), 0o644)
			m := &fastopen.PathMemory{}
			if err := Load(f, m); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), f) {
				t.Fatalf("Load: %v, want ErrCorrupt naming the file", err)
			}
			// The next save replaces the corrupt file.
			m.Restore([]fastopen.PathEntry{entry("192.0.2.9", 1, time.Now())})
			if err := Save(f, m); err != nil {
				t.Fatal(err)
			}
			if err := Load(f, &fastopen.PathMemory{}); err != nil {
				t.Fatalf("after Save: %v", err)
			}
			// ... and nothing is lost: the unreadable file is kept aside.
			if b, err := os.ReadFile(f + CorruptSuffix); err != nil || string(b) != content {
				t.Fatalf("the unreadable file was not kept as %s: %v", f+CorruptSuffix, err)
			}
		})
	}
	if err := Load(filepath.Join(dir, "missing"), &fastopen.PathMemory{}); err != nil {
		t.Fatalf("missing file: %v, want none", err)
	}
	if err := Load(dir, &fastopen.PathMemory{}); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a directory") {
		t.Fatalf("a directory: %v, want ErrNotRegular saying it is a directory", err)
	}
}

// TestNotRegular: a state file name that is a directory or a FIFO (or a
// device such as /dev/null) is neither read (a FIFO would block) nor
// replaced by Save or Forget; a symbolic link is kept and its target
// replaced.
func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Skip("no FIFO here:", err)
	}
	m := &fastopen.PathMemory{}
	m.Restore([]fastopen.PathEntry{entry("192.0.2.9", 1, time.Now())})
	for _, name := range []string{fifo, dir} {
		if err := Load(name, &fastopen.PathMemory{}); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Load(%s): %v, want ErrNotRegular", name, err)
		}
		if err := Save(name, m); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Save(%s): %v, want ErrNotRegular", name, err)
		}
		if _, err := Forget(name, func(*fastopen.PathMemory) {}); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Forget(%s): %v, want ErrNotRegular", name, err)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v, %v", fi, err)
	}
	target := filepath.Join(dir, "target.json")
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := Save(link, m); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symbolic link was replaced: %v, %v", fi, err)
	}
	if ps, err := Read(target); err != nil || len(ps) != 1 {
		t.Fatalf("link target: %v, %v, want the saved entry", ps, err)
	}
}

func TestBoundedEntries(t *testing.T) {
	name := filepath.Join(t.TempDir(), "paths.json")
	m := &fastopen.PathMemory{Size: MaxEntries + 100}
	now := time.Now()
	var es []fastopen.PathEntry
	for i := range MaxEntries + 100 {
		es = append(es, entry(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), 1, now.Add(time.Duration(i)*time.Second)))
	}
	m.Restore(es)
	if err := Save(name, m); err != nil {
		t.Fatal(err)
	}
	got, err := Read(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxEntries {
		t.Fatalf("%d entries kept, want %d", len(got), MaxEntries)
	}
	for _, e := range got {
		if e.LastUsed.Before(now.Add(100 * time.Second)) {
			t.Fatalf("kept %v, last used %v: not among the most recently used", e.Addr, e.LastUsed)
		}
	}
}

// TestCorruptFilesKeptApart: a second unreadable file is kept beside the
// first, not over it, and no more than ten are kept.
func TestCorruptFilesKeptApart(t *testing.T) {
	f := filepath.Join(t.TempDir(), "state.json")
	for i := range 12 {
		content := "not json " + strconv.Itoa(i)
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// Distinct times, so that "changed longest ago" is well defined.
		when := time.Unix(1_000_000+int64(i), 0)
		if err := Save(f, &fastopen.PathMemory{}); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		kept := f + CorruptSuffix
		if i%10 > 0 { // after ten, the oldest is replaced
			kept += "." + strconv.Itoa(i%10)
		}
		b, err := os.ReadFile(kept)
		if err != nil || string(b) != content {
			t.Fatalf("save %d: %s holds %q (%v), want %q", i, kept, b, err, content)
		}
		os.Chtimes(kept, when, when)
	}
	matches, _ := filepath.Glob(f + CorruptSuffix + "*")
	if len(matches) != 10 {
		t.Fatalf("%d files kept aside (%v), want 10", len(matches), matches)
	}
}
