package trace

import (
	"fmt"
	"net/netip"
)

// Filter selects the packets a capture keeps: TCP segments, optionally to
// or from one port and one host.
type Filter struct {
	// Port, when non-zero, keeps segments whose source or destination port
	// is Port.
	Port uint16
	// Host, when valid, keeps segments whose source or destination address
	// is Host.
	Host netip.Addr
}

// Match applies the filter to a decoded packet (the user-space twin of the
// kernel filter Program builds).
func (f Filter) Match(p Packet) bool {
	if f.Port != 0 && p.Src.Port() != f.Port && p.Dst.Port() != f.Port {
		return false
	}
	if f.Host.IsValid() {
		h := f.Host.Unmap()
		if p.Src.Addr().Unmap() != h && p.Dst.Addr().Unmap() != h {
			return false
		}
	}
	return true
}

// String renders the filter the way tcpdump would spell it.
func (f Filter) String() string {
	s := "tcp"
	if f.Port != 0 {
		s += fmt.Sprintf(" port %d", f.Port)
	}
	if f.Host.IsValid() {
		s += " and host " + f.Host.String()
	}
	return s
}
