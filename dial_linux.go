package fastopen

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

func (d *Dialer) dial(ctx context.Context, network, address string) (*Conn, error) {
	if err := checkNetwork("dial", network, address); err != nil {
		return nil, err
	}
	st := dialState{network: network, address: address, disabled: d.Disable}
	nd := d.Dialer
	// For a name with IPv4 and IPv6 addresses net.Dialer races sockets of
	// both families (RFC 8305) and runs Control on each, concurrently; a
	// loser's may even run after DialContext returns. So each socket's
	// outcome is kept by descriptor and the winner's is looked up.
	var (
		mu       sync.Mutex
		outcomes = map[uintptr]dialState{}
	)
	if !d.Disable {
		userCtl := nd.ControlContext
		if userCtl == nil && nd.Control != nil {
			ctl := nd.Control
			userCtl = func(_ context.Context, network, address string, rc syscall.RawConn) error {
				return ctl(network, address, rc)
			}
		}
		nd.Control = nil
		nd.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
			if userCtl != nil {
				if err := userCtl(ctx, network, address, rc); err != nil {
					return err
				}
			}
			var st dialState
			// What the callback learns, in one object (it escapes).
			var ctl struct {
				fd   uintptr
				serr error
				path pathState
			}
			if err := rc.Control(func(fd uintptr) {
				ctl.fd = fd
				// Path memory: leave TFO out where it failed lately.
				if ctl.path = d.pathDecide(fd, address); ctl.path.skipped {
					return
				}
				ctl.serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1)
			}); err != nil {
				return err
			}
			sockFD, serr := ctl.fd, ctl.serr
			st.path = &ctl.path
			defer func() {
				mu.Lock()
				outcomes[sockFD] = st
				mu.Unlock()
			}()
			switch {
			case ctl.path.skipped:
				if d.Require {
					return &Error{Op: "dial", Net: network, Addr: address, Reason: ReasonPathMemory, Err: ErrNotUsed}
				}
				return nil
			case serr == nil:
				st.requested = true
				return nil
			case errors.Is(serr, unix.EOPNOTSUPP):
				// The kernel refuses TCP_FASTOPEN_CONNECT when
				// net.ipv4.tcp_fastopen lacks the client bit.
				st.kernelOff = true
				if d.Require {
					return &Error{Op: "dial", Net: network, Addr: address, Reason: ReasonKernelOff, Err: ErrNotUsed}
				}
				return nil
			case errors.Is(serr, unix.ENOPROTOOPT):
				// Kernels before 4.11 have no TCP_FASTOPEN_CONNECT.
				st.unsupported = true
				if d.Require {
					return &Error{Op: "dial", Net: network, Addr: address, Reason: ReasonUnsupported, Err: errors.ErrUnsupported}
				}
				return nil
			}
			return os.NewSyscallError("setsockopt TCP_FASTOPEN_CONNECT", serr)
		}
	}
	nc, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc, err := tcpConn(nc, network)
	if err != nil {
		return nil, err
	}
	if !d.Disable {
		rc, err := tc.SyscallConn()
		if err != nil {
			tc.Close()
			return nil, err
		}
		var sockFD uintptr
		if err := rc.Control(func(fd uintptr) { sockFD = fd }); err != nil {
			tc.Close()
			return nil, err
		}
		mu.Lock()
		o := outcomes[sockFD]
		mu.Unlock()
		st.requested, st.kernelOff, st.unsupported = o.requested, o.kernelOff, o.unsupported
		if st.path = o.path; st.path != nil {
			st.path.rc = rc // path memory: to observe the outcome
		}
	}
	if st.requested {
		// With a cached cookie the kernel defers the SYN to the first
		// write and connect() returns at once: the socket is in SYN_SENT
		// with nothing sent. Without one, connect() did a full handshake.
		ti, fail, err := tcpInfo(tc)
		if err != nil {
			tc.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Source: tc.LocalAddr(), Addr: tc.RemoteAddr(), Err: err}
		}
		st.deferred = ti.State == unix.BPF_TCP_SYN_SENT
		if d.Require && !st.deferred {
			tc.Close()
			why := ReasonNoCookie
			if kernelReportsClientFail && kernelReason(fail) != ReasonNoCookie {
				why = ReasonUnknown // a cookie is cached but client TFO is paused (blackhole)
			}
			return nil, &net.OpError{Op: "dial", Net: network, Source: tc.LocalAddr(), Addr: tc.RemoteAddr(),
				Err: &Error{Op: "dial", Net: network, Addr: address, Reason: why, Err: ErrNotUsed}}
		}
	}
	c := newConn(tc, st, d.FirstWriteWait)
	if st.requested && !st.deferred {
		c.observePath(false) // path memory: the cookie request's handshake is over
	}
	return c, nil
}

// trigger starts a deferred handshake without data: a zero-length send on
// a socket whose connect was deferred makes the kernel send the SYN (with
// the cookie, no data) and return EINPROGRESS at once. It runs outside
// the write deadline, which concerns the caller's writes, not this SYN
// (a Read must start the handshake even after a write deadline passed).
// EAGAIN means a racing Write started the handshake first.
func (c *Conn) trigger() error {
	rc, err := c.tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Sendto(int(fd), nil, 0, nil)
	}); err != nil {
		return err
	}
	if serr != nil && !errors.Is(serr, unix.EINPROGRESS) && !errors.Is(serr, unix.EAGAIN) {
		return os.NewSyscallError("sendto", serr)
	}
	return nil
}

// synLeftWithoutData reports whether err, from the write that started a
// deferred handshake, says that the SYN went out without data: the
// kernel's sendmsg returns EINPROGRESS, having copied nothing, when the
// cookie check it repeats at that moment fails.
func synLeftWithoutData(err error) bool { return errors.Is(err, unix.EINPROGRESS) }

// awaitHandshake waits in the netpoller until the socket leaves SYN_SENT
// (client) or SYN_RECV (a server's TFO child, accepted before the client's
// final ACK): the kernel wakes the socket's waiters when the state changes
// and when the handshake fails. It then returns the socket error, if any.
func awaitHandshake(tc *net.TCPConn) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		var done bool
		done, werr = handshakeState(fd)
		return done
	})
	if err != nil {
		return err
	}
	return werr
}

// handshakeOver reports, without waiting, whether tc's handshake is over,
// and if so its error (as awaitHandshake).
func handshakeOver(tc *net.TCPConn) (bool, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return true, err
	}
	var done bool
	var herr error
	if err := rc.Control(func(fd uintptr) { done, herr = handshakeState(fd) }); err != nil {
		return true, err
	}
	return done, herr
}

// handshakeState reports whether the handshake of the socket fd has ended
// (it is out of SYN_SENT and SYN_RECV) and if so how: nil, or the error
// that ended it.
func handshakeState(fd uintptr) (bool, error) {
	ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return true, os.NewSyscallError("getsockopt TCP_INFO", err)
	}
	if ti.State == unix.BPF_TCP_SYN_SENT || ti.State == unix.BPF_TCP_SYN_RECV {
		return false, nil
	}
	soerr, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		return true, os.NewSyscallError("getsockopt SO_ERROR", err)
	case soerr != 0:
		return true, syscall.Errno(soerr)
	case ti.State == unix.BPF_TCP_CLOSE:
		return true, unix.ECONNRESET
	}
	return true, nil
}
