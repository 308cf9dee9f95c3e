// Package pathstate keeps a fastopen.PathMemory in a small file between
// runs of the CLI, as curl keeps its alt-svc cache, so that separate
// `fastopen send` runs learn from each other what the kernel does not
// record (a lost cookie request, for one).
//
// The file is JSON, at most MaxFileSize bytes and MaxEntries destinations
// (the most recently used are kept). Save merges with what other runs
// wrote meanwhile, under a lock file, and replaces the file atomically
// (write, sync, rename). A file that cannot be parsed is reported (Load's
// error wraps ErrCorrupt) and then moved aside to NAME.corrupt (or
// NAME.corrupt.N: AsideName) by the next Save, which writes a new one.
package pathstate

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/atomicfile"
)

// EnvFile names the environment variable that overrides the state file's
// location (the CLI's --state flag overrides both).
const EnvFile = "FASTOPEN_STATE_FILE"

// Bounds of the state file.
const (
	MaxFileSize = 1 << 20
	MaxEntries  = fastopen.DefaultPathMemorySize
)

// formatVersion is the file's format; another version is not read.
const formatVersion = 1

// ErrCorrupt is wrapped by Load's error when the file exists but is not
// a state file this version can read (bad JSON, another format, too big).
var ErrCorrupt = errors.New("not a readable fastopen state file")

type file struct {
	Version int                  `json:"version"`
	Paths   []fastopen.PathEntry `json:"paths"`
}

// DefaultFile is where the CLI keeps its path memory: $FASTOPEN_STATE_FILE,
// else $XDG_STATE_HOME/fastopen/paths.json, else
// ~/.local/state/fastopen/paths.json.
func DefaultFile() (string, error) {
	if f := os.Getenv(EnvFile); f != "" {
		return f, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fastopen", "paths.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no place for the state file (set %s, XDG_STATE_HOME or HOME, or pass --state): %w", EnvFile, err)
	}
	return filepath.Join(home, ".local", "state", "fastopen", "paths.json"), nil
}

// Read returns the entries in name; a missing file is none. An unreadable
// file's error wraps ErrCorrupt (or the file system's error).
func Read(name string) ([]fastopen.PathEntry, error) {
	// Stat before opening: opening a FIFO would block, and a device or
	// a directory is no state file to read, nor to replace.
	if err := checkRegular(name); err != nil {
		return nil, err
	}
	b, err := atomicfile.ReadRegular(name, MaxFileSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("state file %s is larger than %d bytes: %w", name, MaxFileSize, ErrCorrupt)
	}
	var v file
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("state file %s: %v: %w", name, err, ErrCorrupt)
	}
	if v.Version != formatVersion {
		return nil, fmt.Errorf("state file %s has format version %d, want %d: %w", name, v.Version, formatVersion, ErrCorrupt)
	}
	if len(v.Paths) > MaxEntries {
		v.Paths = v.Paths[:MaxEntries]
	}
	return v.Paths, nil
}

// Load restores the entries of name into m. A missing file is not an
// error; on any error m is left as it was.
func Load(name string, m *fastopen.PathMemory) error {
	ps, err := Read(name)
	if err != nil {
		return err
	}
	m.Restore(ps)
	return nil
}

// Save writes m's entries to name, merged with what the file holds now
// (the later news per destination wins), creating the directory if
// needed. A corrupt file is moved aside (CorruptSuffix) and replaced.
func Save(name string, m *fastopen.PathMemory) error {
	return update(name, func(merged *fastopen.PathMemory) { merged.Restore(m.Entries()) })
}

// Forget rewrites the file with forget applied to its entries (such as
// PathMemory.Forget of one address). It reports false, and writes
// nothing, when there is no file.
func Forget(name string, forget func(*fastopen.PathMemory)) (bool, error) {
	if _, err := os.Stat(name); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return true, update(name, forget)
}

// CorruptSuffix is added to the name of an unreadable state file that a
// Save or Forget moves aside before writing a new one (see AsideName).
const CorruptSuffix = ".corrupt"

// maxAside bounds the unreadable files kept aside per state file.
const maxAside = 10

// AsideName returns the name under which an unreadable state file name is
// kept: the first of NAME.corrupt, NAME.corrupt.1, ..., NAME.corrupt.9
// that is free, or when all ten are taken the one changed longest ago
// (it is replaced).
func AsideName(name string) string {
	oldest, oldestTime := "", time.Time{}
	for i := range maxAside {
		n := name + CorruptSuffix
		if i > 0 {
			n += "." + strconv.Itoa(i)
		}
		fi, err := os.Lstat(n)
		if err != nil {
			return n
		}
		if oldest == "" || fi.ModTime().Before(oldestTime) {
			oldest, oldestTime = n, fi.ModTime()
		}
	}
	return oldest
}

// ErrNotRegular is wrapped by the error for a state file name that names
// something other than a regular file (a directory, a device such as
// /dev/null, a FIFO): it is neither read nor replaced.
var ErrNotRegular = errors.New("not a regular file")

// checkRegular reports an error wrapping ErrNotRegular when name exists
// and is not a regular file (after symbolic links).
func checkRegular(name string) error {
	st, err := os.Stat(name)
	if err != nil || st.Mode().IsRegular() {
		return nil // a missing file is created; other errors show on open
	}
	return fmt.Errorf("state file %s is %s, %w: give a file's path with --state FILE (or --state none)", name, atomicfile.Kind(st.Mode()), ErrNotRegular)
}

// followLinks returns what name's symbolic links lead to, even when the
// last target does not exist yet (at most 40 links, like the kernel).
func followLinks(name string) string {
	for range 40 {
		fi, err := os.Lstat(name)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		t, err := os.Readlink(name)
		if err != nil {
			break
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(name), t)
		}
		name = t
	}
	return name
}

// update rewrites name with fn applied to its entries, under the lock.
// A symbolic link is followed: its target is replaced, the link kept.
func update(name string, fn func(*fastopen.PathMemory)) error {
	if err := checkRegular(name); err != nil {
		return err
	}
	name = followLinks(name)
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	unlock, err := lock(name + ".lock")
	if err != nil {
		return fmt.Errorf("state file: lock: %w", err)
	}
	defer unlock()
	merged := &fastopen.PathMemory{Size: MaxEntries}
	if ps, err := Read(name); err == nil {
		merged.Restore(ps)
	} else if errors.Is(err, ErrCorrupt) {
		// Not ours to lose (a --state naming the wrong file, say):
		// kept beside, then replaced.
		if err := os.Rename(name, AsideName(name)); err != nil {
			return fmt.Errorf("state file: keep the unreadable file aside: %w", err)
		}
	} else {
		return err
	}
	fn(merged)
	ps := merged.Entries()
	slices.SortFunc(ps, func(a, b fastopen.PathEntry) int { return cmp.Compare(b.LastUsed.UnixNano(), a.LastUsed.UnixNano()) })
	for len(ps) > 0 {
		b, err := json.MarshalIndent(file{Version: formatVersion, Paths: ps}, "", " ")
		if err != nil {
			return fmt.Errorf("state file: %w", err)
		}
		if len(b) <= MaxFileSize {
			return writeAtomic(name, append(b, '\n'))
		}
		ps = ps[:len(ps)*3/4] // keep the most recently used
	}
	return writeAtomic(name, []byte(`{"version":1,"paths":[]}`+"\n"))
}

// writeAtomic replaces name with b (atomicfile.Write): a reader sees the
// old or the new file, never a part.
func writeAtomic(name string, b []byte) error {
	if err := atomicfile.Write(name, b, 0o600); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}
