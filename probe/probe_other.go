//go:build !linux

package probe

import (
	"fmt"
	"net/netip"
	"syscall"

	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/sysctl"
)

// errNothingToFlush: the kernel held nothing for the address.
var errNothingToFlush = cookie.ErrNoCookie

func flushCookie(a netip.Addr) error { return cookie.Flush(a) }

func cookieOf(netip.Addr) ([]byte, int, error) {
	return nil, 0, fmt.Errorf("the kernel's cookie cache: %w", sysctl.ErrUnsupported)
}

func synRetransmits(syscall.Conn) (int, error) {
	return 0, fmt.Errorf("TCP_INFO retransmissions: %w", sysctl.ErrUnsupported)
}

func startCapture(netip.AddrPort) (capture, error) {
	return nil, fmt.Errorf("capture needs Linux: %w", sysctl.ErrUnsupported)
}
