package kernel

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` pins named namespaces.
const netnsDir = "/var/run/netns"

// initNetInode is the inode number of the initial network namespace on
// kernels that give it a fixed one: NET_NS_INIT_INO of the kernel's
// include/uapi/linux/nsfs.h (PROC_NET_INIT_INO), which golang.org/x/sys
// does not define. Namespaces created later get inodes from 0xF0000000
// up, so no other namespace can have it. Older kernels number the initial
// namespace like any other.
const initNetInode = 0xEFFFFFF9

// CurrentNamespace identifies the calling thread's network namespace.
func CurrentNamespace() (Namespace, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return Namespace{}, fmt.Errorf("identify network namespace: %w", err)
	}
	ns := Namespace{Inode: st.Ino}
	var init unix.Stat_t
	initErr := unix.Stat("/proc/1/ns/net", &init)
	ns.Host, ns.HostUnknown = isInitial(st, init, initErr)
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			var s unix.Stat_t
			if unix.Stat(filepath.Join(netnsDir, e.Name()), &s) == nil && s.Ino == st.Ino && s.Dev == st.Dev {
				ns.Name = e.Name()
				break
			}
		}
	}
	return ns, nil
}

// isInitial tells whether the namespace cur is the initial one, given
// PID 1's namespace (init, or initErr when it could not be read: PID 1
// belongs to another user, or /proc is a container's). Without PID 1's
// namespace only the fixed inode of newer kernels answers; otherwise the
// answer is unknown.
func isInitial(cur, init unix.Stat_t, initErr error) (host, unknown bool) {
	switch {
	case initErr == nil:
		return init.Ino == cur.Ino && init.Dev == cur.Dev, false
	case cur.Ino == initNetInode:
		return true, false
	}
	return false, true
}
