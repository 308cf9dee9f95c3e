//go:build !linux

package relay

import (
	"errors"
	"fmt"
	"syscall"
)

// NoCookie would set TCP_FASTOPEN_NO_COOKIE (see the Linux version); this
// platform has no such option, so it fails with an error wrapping
// errors.ErrUnsupported.
func NoCookie(network, address string, rc syscall.RawConn) error {
	return fmt.Errorf("relay: trusted-link mode needs Linux 4.15+ (TCP_FASTOPEN_NO_COOKIE): %w", errors.ErrUnsupported)
}

// CheckNoCookie fails as NoCookie does: this platform has no such option.
func CheckNoCookie() error { return NoCookie("", "", nil) }
