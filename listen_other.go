//go:build !linux

package fastopen

import (
	"context"
	"errors"
)

func (lc *ListenConfig) listen(ctx context.Context, network, address string) (*Listener, error) {
	if err := checkNetwork("listen", network); err != nil {
		return nil, err
	}
	if _, err := checkQueueLen(lc.QueueLen); err != nil {
		return nil, listenError(network, address, err)
	}
	if lc.Require && !lc.Disable {
		return nil, refuseListen(network, address, ReasonUnsupported, errors.ErrUnsupported)
	}
	nlc := lc.ListenConfig
	if !multipathAsked(&nlc) {
		nlc.SetMultipathTCP(false)
	}
	nl, err := nlc.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tl, err := tcpListener(nl, network, address)
	if err != nil {
		return nil, err
	}
	why := ReasonUnsupported
	if lc.Disable {
		why = ReasonDisabled
	}
	return &Listener{tl: tl, why: why}, nil
}
