package kernel

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` pins named namespaces.
const netnsDir = "/var/run/netns"

// CurrentNamespace identifies the calling thread's network namespace.
func CurrentNamespace() (Namespace, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return Namespace{}, fmt.Errorf("identify network namespace: %w", err)
	}
	ns := Namespace{Inode: st.Ino}
	var init unix.Stat_t
	if unix.Stat("/proc/1/ns/net", &init) == nil {
		ns.Host = init.Ino == st.Ino && init.Dev == st.Dev
	}
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
