//go:build !linux

package probe

import (
	"fmt"
	"net/netip"
	"syscall"

	"github.com/fastopen/fastopen/sysctl"
)

func cookieOf(netip.Addr) ([]byte, int, error) {
	return nil, 0, fmt.Errorf("the kernel's cookie cache: %w", sysctl.ErrUnsupported)
}

func synRetransmits(syscall.Conn) (int, error) {
	return 0, fmt.Errorf("TCP_INFO retransmissions: %w", sysctl.ErrUnsupported)
}

func startCapture(netip.AddrPort) (capture, error) {
	return nil, fmt.Errorf("capture needs Linux: %w", sysctl.ErrUnsupported)
}
