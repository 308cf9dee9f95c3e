//go:build !linux

package lab

import "github.com/vishvananda/netns"

// newNamedNS fails: named network namespaces exist only on Linux.
func newNamedNS(name string) (netns.NsHandle, error) { return netns.None(), ErrUnsupported }

// deleteNamed fails: named network namespaces exist only on Linux.
func deleteNamed(name string) error { return ErrUnsupported }
