package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fastopen/fastopen/internal/atomicfile"
)

// PersistPath is where PersistFastOpenMode writes by default; systemd's
// sysctl.d and procps read it at boot.
const PersistPath = "/etc/sysctl.d/60-fastopen.conf"

// PersistFastOpenMode writes a sysctl.d file that sets net.ipv4.tcp_fastopen
// to m at boot. Boot-time sysctls apply to the host's namespace only. A
// missing directory is created when its parent exists (a system without
// /etc/sysctl.d yet); the file is replaced atomically, so a failure leaves
// the previous one as it was.
func PersistFastOpenMode(path string, m Mode) error {
	if path == "" {
		path = PersistPath
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return persistError(path, fmt.Errorf("cannot create directory %s: %w", dir, unwrapPath(err)))
		}
	}
	text := fmt.Sprintf("# Written by `fastopen enable/disable`: TCP Fast Open mode %s.\n%s = %d\n", m, FastOpen, int(m))
	if err := atomicfile.Write(path, []byte(text), 0o644); err != nil {
		return persistError(path, unwrapPath(err))
	}
	return nil
}

// persistError says which file could not be written and why, wrapping
// ErrPrivilege for a permission problem.
func persistError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("persist %s: cannot write %s: %w", FastOpen, path, ErrPrivilege)
	}
	return fmt.Errorf("persist %s: cannot write %s: %w", FastOpen, path, err)
}

// unwrapPath drops the *fs.PathError around err, whose path may be a
// temporary file's, keeping the cause ("read-only file system").
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
