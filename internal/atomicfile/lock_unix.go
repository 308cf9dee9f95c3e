//go:build unix

package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// renameOpen: a temporary file is renamed while open (and locked).
const renameOpen = true

// lockTemp takes an exclusive flock on a temporary file being written;
// the kernel drops it when the writer's process ends, however it ends.
func lockTemp(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return os.NewSyscallError("flock", err)
	}
	return nil
}

// staleTemp reports whether no process holds the lock on the temporary
// file at path: its writer is gone.
func staleTemp(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}
