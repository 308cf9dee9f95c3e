// Package accept holds what the project's servers share about accepting
// connections.
package accept

import (
	"errors"
	"syscall"
)

// Retryable reports whether an Accept error is a passing shortage
// (descriptors, buffers, memory) after which accepting can go on, after a
// pause, as net/http's Server does.
func Retryable(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
