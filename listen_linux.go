package fastopen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

func (lc *ListenConfig) listen(ctx context.Context, network, address string) (*Listener, error) {
	if err := checkNetwork("listen", network, address); err != nil {
		return nil, err
	}
	qlen := lc.QueueLen
	if qlen == 0 {
		qlen = DefaultQueueLen
	}
	if qlen < 0 {
		return nil, listenError(network, address, fmt.Errorf("fastopen: QueueLen %d is negative: use 0 for DefaultQueueLen or a positive queue length", qlen))
	}
	l := &Listener{disabled: lc.Disable, queueLen: qlen}
	if lc.Disable {
		l.queueLen = 0
	}
	if !lc.Disable {
		// Read the server bit before listening, in the caller's namespace.
		mode, err := sysctl.FastOpenMode()
		if err != nil {
			return nil, listenError(network, address, err)
		}
		l.kernelOff = !mode.Server() && mode&sysctl.ModeServerAllListeners == 0
		if l.kernelOff && lc.Require {
			return nil, &Error{Op: "listen", Net: network, Addr: address, Reason: ReasonKernelOff, Err: ErrNotUsed}
		}
	}
	nlc := lc.ListenConfig
	userCtl := nlc.Control
	nlc.Control = func(network, address string, rc syscall.RawConn) error {
		if userCtl != nil {
			if err := userCtl(network, address, rc); err != nil {
				return err
			}
		}
		if lc.Disable {
			return nil
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN, qlen); serr != nil {
				serr = os.NewSyscallError("setsockopt TCP_FASTOPEN", serr)
				return
			}
			if lc.Key != nil {
				serr = SetListenerKey(fd, *lc.Key, lc.BackupKey)
			}
		}); err != nil {
			return err
		}
		if serr != nil {
			if errors.Is(serr, unix.ENOPROTOOPT) && !lc.Require && lc.Key == nil {
				return nil // no TFO in this kernel: plain listener, FastOpen says so
			}
			return serr
		}
		l.requested = true
		return nil
	}
	nl, err := nlc.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tl, err := tcpListener(nl, network, address)
	if err != nil {
		return nil, err
	}
	l.tl = tl
	if !lc.Disable && !l.requested && lc.Require {
		tl.Close()
		return nil, &Error{Op: "listen", Net: network, Addr: address, Reason: ReasonUnsupported, Err: errors.ErrUnsupported}
	}
	return l, nil
}
