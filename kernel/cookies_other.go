//go:build !linux

package kernel

import (
	"fmt"
	"net/netip"

	"github.com/fastopen/fastopen/sysctl"
)

// Cookies lists the kernel's cached TFO cookies; Linux only.
func Cookies() ([]Cookie, error) {
	return nil, fmt.Errorf("list TFO cookies: %w", sysctl.ErrUnsupported)
}

// FlushCookies makes the kernel forget cached TFO cookies; Linux only.
func FlushCookies(dest netip.Addr) error {
	return fmt.Errorf("flush TFO cookies: %w", sysctl.ErrUnsupported)
}
