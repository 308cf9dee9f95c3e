//go:build !linux

package fastopen

import (
	"context"
	"errors"
	"net"
)

// On platforms other than Linux this package dials plain TCP and says so.

func (d *Dialer) dial(ctx context.Context, network, address string) (*Conn, error) {
	if err := checkNetwork("dial", network, address); err != nil {
		return nil, err
	}
	if d.Require && !d.Disable {
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &Error{Op: "dial", Net: network, Addr: address, Reason: ReasonUnsupported, Err: errors.ErrUnsupported}}
	}
	nc, err := d.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc, err := tcpConn(nc, network)
	if err != nil {
		return nil, err
	}
	st := dialState{network: network, address: address, disabled: d.Disable, unsupported: !d.Disable}
	return newConn(tc, st, d.FirstWriteWait), nil
}

func (c *Conn) trigger() error          { return nil }
func synLeftWithoutData(error) bool     { return false }
func awaitHandshake(*net.TCPConn) error { return nil }

func handshakeOver(*net.TCPConn) (bool, error) { return true, nil }
