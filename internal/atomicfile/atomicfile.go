// Package atomicfile replaces files atomically: a reader sees the old
// content or the new, never a half-written file. A writer killed half-way
// leaves a temporary file behind; the next write beside it removes it, so
// secret material does not linger. ReadRegular reads such a file back,
// bounded, refusing anything that is not a regular file.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Write writes data to a temporary file in path's directory,
// named "." + base name + ".tmp" + digits (os.CreateTemp's pattern),
// and renames it over path. The writer holds a lock on its temporary
// file until the rename (lockTemp), so a temporary file of this pattern
// that nobody holds was left by a writer that was killed: each write
// first removes those (removeStaleTemps), since they hold key material.
func Write(path string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Dir(path), filepath.Base(path)
	removeStaleTemps(dir, base)
	f, err := createLockedTemp(dir, base)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	// On disk before the rename, or a crash could leave an empty key file.
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Where the lock is a flock, renamed while still open and locked, so
	// that no other writer's clean-up takes the file for a stale one.
	if !renameOpen {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if renameOpen {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// tempPrefix starts the names of Write's temporary files:
// "." + base + ".tmp" + digits.
func tempPrefix(base string) string { return "." + base + ".tmp" }

// isTempName reports whether name is one of Write's temporary
// files for base.
func isTempName(name, base string) bool {
	digits, ok := strings.CutPrefix(name, tempPrefix(base))
	return ok && digits != "" && !strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
}

// createLockedTemp creates a temporary file for base in dir and locks
// it. Should a concurrent clean-up remove it between the two (it was not
// yet locked), it tries again.
func createLockedTemp(dir, base string) (*os.File, error) {
	for try := 0; ; try++ {
		f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
		if err != nil {
			return nil, err
		}
		if err := lockTemp(f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		st, err1 := f.Stat()
		named, err2 := os.Stat(f.Name())
		if err1 == nil && err2 == nil && os.SameFile(st, named) || try == 2 {
			return f, nil
		}
		f.Close()
	}
}

// removeStaleTemps removes the temporary files for base in dir that no
// writer holds (staleTemp). Errors are ignored: the clean-up is a
// courtesy and the write goes on either way.
func removeStaleTemps(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempName(e.Name(), base) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if staleTemp(p) {
			os.Remove(p)
		}
	}
}

// Kind names what a file that is not a regular file is, for error
// messages: "a directory", "a named pipe", "a socket", "a device", or "a
// special file".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
