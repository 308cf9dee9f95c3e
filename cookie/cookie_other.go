//go:build !linux

package cookie

import (
	"fmt"
	"net/netip"

	"github.com/fastopen/fastopen/sysctl"
)

// List lists the kernel's cached TFO cookies; Linux only.
func List() ([]Cookie, error) {
	return nil, fmt.Errorf("list TFO cookies: %w", sysctl.ErrUnsupported)
}

// Flush makes the kernel forget cached TFO cookies; Linux only.
func Flush(dest netip.Addr) error {
	return fmt.Errorf("flush TFO cookies: %w", sysctl.ErrUnsupported)
}
