package kernel

import "fmt"

// Namespace identifies a network namespace.
type Namespace struct {
	// Inode is the namespace's inode number, as in `ls -L -i
	// /proc/self/ns/net` and in "net:[4026531840]".
	Inode uint64 `json:"inode"`
	// Host is true for the initial namespace (the host's), the one PID 1
	// lives in.
	Host bool `json:"host"`
	// HostUnknown is true when it could not be told whether this is the
	// initial namespace (PID 1's namespace unreadable on a kernel that
	// numbers the initial namespace like any other); Host is then false.
	HostUnknown bool `json:"host_unknown,omitempty"`
	// Name is the namespace's name under /var/run/netns (`ip netns`), if
	// it has one.
	Name string `json:"name,omitempty"`
}

// String describes the namespace for people, e.g. "the host's network
// namespace (net:[4026531840])".
func (n Namespace) String() string {
	switch {
	case n.Host:
		return fmt.Sprintf("the host's network namespace (net:[%d])", n.Inode)
	case n.Name != "":
		return fmt.Sprintf("network namespace %s (net:[%d])", n.Name, n.Inode)
	case n.HostUnknown:
		return fmt.Sprintf("network namespace net:[%d] (the host's or not: /proc/1/ns/net cannot be read)", n.Inode)
	}
	return fmt.Sprintf("network namespace net:[%d] (not the host's)", n.Inode)
}
