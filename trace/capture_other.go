//go:build !linux

package trace

import (
	"errors"
	"fmt"

	"github.com/gopacket/gopacket/layers"
)

func openSource(iface string, f Filter, snaplen int) (source, layers.LinkType, error) {
	return nil, 0, fmt.Errorf("live capture needs Linux (AF_PACKET sockets); read saved captures with ReadFile: %w", errors.ErrUnsupported)
}
