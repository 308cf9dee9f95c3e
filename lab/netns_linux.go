package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// newNamedNS creates a network namespace named name under /var/run/netns.
// It works on a goroutine of its own, because creating the namespace moves
// the thread into it: the thread goes back to the original namespace, or,
// if that fails (e.g. as root of a user namespace, which cannot enter the
// host's namespace), stays locked so that the runtime ends it with the
// goroutine instead of running other goroutines in the new namespace.
// When naming the namespace fails half-way, the file it left is removed.
func newNamedNS(name string) (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	if err := shareNetnsDir(); err != nil {
		return netns.None(), err
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("read current namespace: %w", err)}
			return
		}
		defer orig.Close()
		handle, err := netns.NewNamed(name) // moves this thread into it
		if err != nil && !errors.Is(err, os.ErrExist) {
			// A file that failed to become a mount: it was created just
			// now, the name being unique to this process.
			os.Remove(filepath.Join(netnsDir, name))
		}
		if serr := returnTo(orig); serr != nil {
			if err == nil {
				handle.Close()
				deleteNamed(name)
				err = fmt.Errorf("return to the original namespace: %w", serr)
			}
			done <- result{err: err}
			return // still locked: the runtime ends the thread with this goroutine
		}
		runtime.UnlockOSThread()
		done <- result{handle, err}
	}()
	r := <-done
	return r.h, r.err
}

// shareNetnsDir makes the namespace directory a shared mount point, as
// `ip netns add` does (and so that it will not do it later): while the
// directory is a plain one, the first `ip netns add` bind-mounts it onto
// itself, and the names created before (mounts on files in it) end up
// copied into the new mount and hidden under it, where they can no
// longer be removed.
func shareNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", netnsDir, err)
	}
	makeShared := func() error { return unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "") }
	err := makeShared()
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make %s a mount point: %w", netnsDir, err)
		}
		err = makeShared()
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", netnsDir, err)
	}
	return nil
}

// returnTo moves the calling thread into ns unless it is there already.
func returnTo(ns netns.NsHandle) error {
	cur, err := netns.Get()
	if err != nil {
		return err
	}
	defer cur.Close()
	if cur.Equal(ns) {
		return nil
	}
	return netns.Set(ns)
}

// deleteNamed removes a named namespace: it unmounts the name and removes
// the file, also when the file is not a mount (left by a creation that
// failed half-way).
func deleteNamed(name string) error {
	path := filepath.Join(netnsDir, name)
	// EINVAL: not a mount point.
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return err
	}
	return os.Remove(path)
}
