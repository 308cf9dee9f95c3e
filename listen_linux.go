package fastopen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

// Seams for the tests: they inject the errors of kernels other than the
// running one (an MPTCP socket refusing TCP_FASTOPEN before Linux 6.2, an
// unreadable /proc/sys).
var (
	setsockoptInt = unix.SetsockoptInt
	fastOpenMode  = sysctl.FastOpenMode
)

// errMPTCPRefused makes net retry a listen on plain TCP: it falls back to
// TCP after any error on an MPTCP socket, Control's included.
var errMPTCPRefused = errors.New("fastopen: the kernel refuses TCP_FASTOPEN on MPTCP sockets (before Linux 6.2)")

func (lc *ListenConfig) listen(ctx context.Context, network, address string) (*Listener, error) {
	if err := checkNetwork("listen", network); err != nil {
		return nil, err
	}
	qlen, err := checkQueueLen(lc.QueueLen)
	if err != nil {
		return nil, listenError(network, address, err)
	}
	l := &Listener{why: ReasonDisabled}
	if !lc.Disable {
		// Read the server bit before listening, in the caller's
		// namespace. The kernel does server TFO only with 0x2; 0x400
		// (all listeners) is a modifier that needs it.
		mode, err := fastOpenMode()
		switch {
		case err != nil && lc.Require:
			return nil, refuseListen(network, address, ReasonUnknown, fmt.Errorf("%w: %w", ErrNotUsed, err))
		case err != nil:
			l.why = ReasonUnknown // set the option anyway; whether it acts is unknown
		case !mode.Server() && lc.Require:
			return nil, refuseListen(network, address, ReasonKernelOff, ErrNotUsed)
		case !mode.Server():
			l.why = ReasonKernelOff
		default:
			l.why = ReasonNone
		}
	}
	nlc := lc.ListenConfig
	if !multipathAsked(&nlc) {
		nlc.SetMultipathTCP(false)
	}
	userCtl := nlc.Control
	nlc.Control = func(network, address string, rc syscall.RawConn) error {
		if userCtl != nil {
			if err := userCtl(network, address, rc); err != nil {
				return err
			}
		}
		l.requested = false // net may call Control again, on a TCP socket
		if lc.Disable {
			return nil
		}
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = lc.setFastOpen(int(fd), qlen) }); err != nil {
			return err
		}
		if serr != nil {
			if errors.Is(serr, unix.ENOPROTOOPT) && !lc.Require && lc.Key == nil && !errors.Is(serr, errMPTCPRefused) {
				return nil // no TFO in this kernel: plain listener, FastOpen says so
			}
			return serr
		}
		l.requested = true
		return nil
	}
	nl, err := nlc.Listen(ctx, network, address)
	if errors.Is(err, errMPTCPRefused) {
		// net did not fall back itself: listen on TCP.
		nlc.SetMultipathTCP(false)
		nl, err = nlc.Listen(ctx, network, address)
	}
	if err != nil {
		return nil, err
	}
	tl, err := tcpListener(nl, network, address)
	if err != nil {
		return nil, err
	}
	l.tl = tl
	if err := l.readBack(); err != nil {
		tl.Close()
		return nil, listenError(network, address, err)
	}
	if !lc.Disable && !l.requested {
		l.why = ReasonUnsupported
		if lc.Require {
			tl.Close()
			return nil, refuseListen(network, address, ReasonUnsupported, errors.ErrUnsupported)
		}
	}
	return l, nil
}

// setFastOpen sets TCP_FASTOPEN (and the key, if any) on the socket fd.
// On an MPTCP socket whose kernel refuses either, it returns an error
// matching errMPTCPRefused and the kernel's errno.
func (lc *ListenConfig) setFastOpen(fd, qlen int) error {
	err := setsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN, qlen)
	if err != nil {
		err = os.NewSyscallError("setsockopt TCP_FASTOPEN", err)
	} else if lc.Key != nil {
		err = SetListenerKey(uintptr(fd), *lc.Key, lc.BackupKey)
	}
	if err != nil && isMPTCP(fd) {
		return fmt.Errorf("%w: %w", errMPTCPRefused, err)
	}
	return err
}

// isMPTCP reports whether the socket fd is Multipath TCP.
func isMPTCP(fd int) bool {
	proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	return err == nil && proto == unix.IPPROTO_MPTCP
}

// readBack reads from the kernel what the listening socket holds: its
// protocol and, when TCP_FASTOPEN was set, the TFO queue's length
// (getsockopt returns fastopenq.max_qlen, capped by somaxconn).
func (l *Listener) readBack() error {
	rc, err := l.tl.SyscallConn()
	if err != nil {
		return err
	}
	var qlen int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		l.mptcp = isMPTCP(int(fd))
		if l.requested {
			qlen, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN)
		}
	}); err != nil {
		return err
	}
	if gerr != nil {
		return os.NewSyscallError("getsockopt TCP_FASTOPEN", gerr)
	}
	l.queueLen = qlen
	if l.requested && qlen == 0 {
		l.requested = false // the kernel did not keep the option
	}
	return nil
}

var _ net.Listener = (*Listener)(nil)
