//go:build !linux

package fastopen

import (
	"context"
	"errors"
)

func (lc *ListenConfig) listen(ctx context.Context, network, address string) (*Listener, error) {
	if err := checkNetwork("listen", network, address); err != nil {
		return nil, err
	}
	if lc.Require && !lc.Disable {
		return nil, &Error{Op: "listen", Net: network, Addr: address, Reason: ReasonUnsupported, Err: errors.ErrUnsupported}
	}
	nl, err := lc.ListenConfig.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tl, err := tcpListener(nl, network, address)
	if err != nil {
		return nil, err
	}
	return &Listener{tl: tl, disabled: lc.Disable}, nil
}
