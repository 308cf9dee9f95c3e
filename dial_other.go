//go:build !linux

package fastopen

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// On platforms other than Linux this package dials plain TCP and says so.

func (d *Dialer) dial(ctx context.Context, network, address string, _ bool) (*Conn, error) {
	if err := checkNetwork("dial", network); err != nil {
		return nil, err
	}
	if d.Require && !d.Disable {
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &Error{Op: "dial", Net: network, Addr: address, Reason: ReasonUnsupported, Err: errors.ErrUnsupported}}
	}
	tc, st, err := d.dialAddr(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return newConn(tc, st, nil, d.FirstWriteWait), nil
}

func (d *Dialer) dialAddr(ctx context.Context, network, address string) (*net.TCPConn, dialState, error) {
	st := dialState{network: netNameOf(network), off: ReasonUnsupported}
	if d.Disable {
		st.off = ReasonDisabled
	}
	nc, err := d.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, st, err
	}
	tc, err := tcpConn(nc, network)
	return tc, st, err
}

func trigger(*net.TCPConn) error        { return nil }
func synLeftWithoutData(error) bool     { return false }
func awaitHandshake(*net.TCPConn) error { return nil }
func abort(*net.TCPConn)                {}

func handshakeOver(*net.TCPConn) (bool, error) { return true, nil }

func inNamespaceOf(_ *net.TCPConn, fn func() error) error { return fn() }

// lookupPaths knows nothing: there is no TCP metrics cache to read.
func lookupPaths(ips ...netip.Addr) []pathCache { return make([]pathCache, len(ips)) }

// dialRequired is dialAddr: Require refuses every dial here (see dial).
func (d *Dialer) dialRequired(ctx context.Context, network, address string) (*net.TCPConn, dialState, error) {
	return d.dialAddr(ctx, network, address)
}
