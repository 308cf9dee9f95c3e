package fastopen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func (d *Dialer) dial(ctx context.Context, network, address string, eager bool) (*Conn, error) {
	if err := checkNetwork("dial", network); err != nil {
		return nil, err
	}
	if d.Require && d.Race && !d.Disable {
		return nil, &net.OpError{Op: "dial", Net: network, Err: ErrRaceRequire}
	}
	deadline := d.deadline(ctx, time.Now())
	addrs, err := d.resolve(ctx, network, address)
	if err != nil {
		return nil, err
	}
	var (
		tc   *net.TCPConn
		st   dialState
		rest []string
	)
	if addrs == nil {
		tc, st, err = d.dialAddr(ctx, network, address)
	} else {
		tc, st, rest, err = d.dialSerial(ctx, network, addrs, deadline)
	}
	if err != nil {
		return nil, err
	}
	if err := d.refuse(tc, st, network, address); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Source: tc.LocalAddr(), Addr: tc.RemoteAddr(), Err: err}
	}
	var plan *dialPlan
	if st.deferred {
		plan = d.newPlan(ctx, network, tc.RemoteAddr(), rest, deadline, eager)
	}
	return newConn(tc, st, plan, d.FirstWriteWait), nil
}

// refuse returns Require's refusal of tc, dialed to address (st), whose
// SYN could not carry data: TFO was requested but no cookie was cached,
// so connect did a handshake that asked for one. It closes tc then (the
// path memory learned how the cookie request fared in dialAddr). nil:
// tc may be used.
func (d *Dialer) refuse(tc *net.TCPConn, st dialState, network, address string) error {
	if !d.Require || !st.requested || st.deferred {
		return nil
	}
	why := ReasonNoCookie
	if _, fail, err := tcpInfo(tc); err == nil && kernelReportsClientFail && kernelReason(fail) != ReasonNoCookie {
		why = ReasonUnknown // a cookie is cached but client TFO is paused (blackhole)
	}
	tc.Close()
	return &Error{Op: "dial", Net: network, Addr: address, Reason: why, Err: ErrNotUsed}
}

// dialRequired is dialAddr for a lazy connection's fallback or parallel
// address: with Require, a socket whose SYN cannot carry data is refused
// (refuse) like a first one, and the next address is tried.
func (d *Dialer) dialRequired(ctx context.Context, network, address string) (*net.TCPConn, dialState, error) {
	tc, st, err := d.dialAddr(ctx, network, address)
	if err != nil {
		return nil, st, err
	}
	if err := d.refuse(tc, st, network, address); err != nil {
		return nil, st, err
	}
	return tc, st, nil
}

// dialAddr dials one address (an IP literal, or a name net resolves) with
// TCP_FASTOPEN_CONNECT set on the socket unless d.Disable, and reports
// what the kernel did: with a cached cookie it defers the SYN to the
// first write and connect returns at once, the socket in SYN_SENT with
// nothing sent; without one, connect did a full handshake that asked the
// server for a cookie.
func (d *Dialer) dialAddr(ctx context.Context, network, address string) (*net.TCPConn, dialState, error) {
	if d.Disable {
		st := dialState{network: netNameOf(network), off: ReasonDisabled}
		nc, err := d.Dialer.DialContext(ctx, network, address)
		if err != nil {
			return nil, st, err
		}
		tc, err := tcpConn(nc, network)
		return tc, st, err
	}
	g := getDialing(d)
	nc, err := g.nd.DialContext(ctx, network, address)
	st := dialState{network: netNameOf(network), requested: g.off == ReasonNone, off: g.off, path: g.path}
	fd := g.fd
	if isLiteral(address) {
		// For an IP literal net calls Control only during DialContext
		// (dial resolves names itself): g can serve another dial. For
		// anything else a racing socket's Control might still come.
		putDialing(g)
	}
	if err != nil {
		st.path.end()
		return nil, st, err
	}
	tc, err := tcpConn(nc, network)
	if err != nil {
		st.path.end()
		return nil, st, err
	}
	if st.requested && fd >= 0 {
		// The descriptor recorded in Control is tc's: nothing else holds
		// the connection yet, so it cannot have been closed.
		state, err := tcpState(fd)
		if err != nil {
			st.path.end()
			tc.Close()
			return nil, st, &net.OpError{Op: "dial", Net: network, Source: tc.LocalAddr(), Addr: tc.RemoteAddr(), Err: err}
		}
		st.deferred = state == unix.BPF_TCP_SYN_SENT
		if !st.deferred {
			st.path.observeCookieRequest(fd) // path memory: the cookie request's handshake is over
		}
	}
	return tc, st, nil
}

// dialing is one dial of dialAddr: net.Dialer with its Control set to
// set TCP_FASTOPEN_CONNECT after the caller's own, and what it learned.
// A dial of one address runs Control once per socket. They are pooled
// with their two funcs made once, so a dial allocates none of them.
type dialing struct {
	d        *Dialer
	nd       net.Dialer
	fd       int
	recordFD func(fd uintptr)
	// controlContext is control as a func value, made once.
	controlContext func(ctx context.Context, network, address string, rc syscall.RawConn) error

	off  Reason    // as in dialState; ReasonNone once TCP_FASTOPEN_CONNECT is set
	path pathState // what the path memory decided for the socket; zero without
}

var dialings = sync.Pool{New: func() any {
	g := &dialing{}
	g.recordFD = func(fd uintptr) { g.fd = int(fd) }
	g.controlContext = g.control
	return g
}}

// isLiteral reports whether address is an IP literal with a port.
func isLiteral(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	_, err = netip.ParseAddr(host)
	return err == nil
}

// getDialing returns a dialing for one dial with d.
func getDialing(d *Dialer) *dialing {
	g := dialings.Get().(*dialing)
	g.d, g.nd, g.fd = d, d.Dialer, -1
	g.off = ReasonPending // until Control has run
	g.path = pathState{}
	g.nd.Control, g.nd.ControlContext = nil, g.controlContext
	return g
}

// putDialing returns g to the pool, holding nothing of the caller's.
func putDialing(g *dialing) {
	g.d, g.nd, g.path = nil, net.Dialer{}, pathState{}
	dialings.Put(g)
}

func (g *dialing) control(ctx context.Context, network, address string, rc syscall.RawConn) error {
	switch {
	case g.d.ControlContext != nil:
		if err := g.d.ControlContext(ctx, network, address, rc); err != nil {
			return err
		}
	case g.d.Control != nil:
		if err := g.d.Control(network, address, rc); err != nil {
			return err
		}
	}
	if err := rc.Control(g.recordFD); err != nil {
		return err
	}
	// Path memory: leave TFO out where it failed lately. The kernel is
	// asked all the same (with TCP_FASTOPEN_CONNECT 0, which leaves the
	// socket without TFO), so that a client bit that is off, or a kernel
	// without the option, is what Info and Require report: the memory's
	// backoff would not bring TFO back.
	want := 1
	if g.path = g.d.pathDecide(uintptr(g.fd), address); g.path.skipped {
		want = 0
	}
	serr := setsockoptInt(g.fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, want)
	switch {
	case serr == nil && want == 0:
		g.off = ReasonPathMemory
	case serr == nil:
		g.off = ReasonNone
		return nil
	case errors.Is(serr, unix.EOPNOTSUPP):
		// The kernel refuses TCP_FASTOPEN_CONNECT when
		// net.ipv4.tcp_fastopen lacks the client bit (do_tcp_setsockopt).
		g.off = ReasonKernelOff
	case errors.Is(serr, unix.ENOPROTOOPT):
		// Kernels before 4.11 have no TCP_FASTOPEN_CONNECT.
		g.off = ReasonUnsupported
	default:
		return os.NewSyscallError("setsockopt TCP_FASTOPEN_CONNECT", serr)
	}
	if !g.d.Require {
		return nil
	}
	why := ErrNotUsed
	if g.off == ReasonUnsupported {
		why = errors.ErrUnsupported
	}
	return &Error{Op: "dial", Net: network, Addr: address, Reason: g.off, Err: why}
}

// tcpState reads the TCP state of the socket fd: the first byte of
// struct tcp_info (tcpi_state), which the kernel copies alone when asked
// for one byte.
func tcpState(fd int) (uint8, error) {
	var state uint8
	err := getTCPInfo(uintptr(fd), unsafe.Pointer(&state), uint32(unsafe.Sizeof(state)))
	return state, err
}

// trigger starts a deferred handshake without data: a zero-length send on
// a socket whose connect was deferred makes the kernel send the SYN (with
// the cookie, no data) and return EINPROGRESS at once. It runs outside
// the write deadline, which concerns the caller's writes, not this SYN
// (a Read must start the handshake even after a write deadline passed).
// EAGAIN means a racing Write started the handshake first. On a socket
// whose handshake is over it sends nothing.
func trigger(tc *net.TCPConn) error {
	rc, err := tc.SyscallConn()
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
// The write deadline bounds the wait.
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
	state, err := tcpState(int(fd))
	if err != nil {
		return true, err
	}
	if state == unix.BPF_TCP_SYN_SENT || state == unix.BPF_TCP_SYN_RECV {
		return false, nil
	}
	soerr, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		return true, os.NewSyscallError("getsockopt SO_ERROR", err)
	case soerr != 0:
		return true, syscall.Errno(soerr)
	case state == unix.BPF_TCP_CLOSE:
		return true, unix.ECONNRESET
	}
	return true, nil
}

// abort ends a handshake that will not be waited for any more: shutdown
// in SYN_SENT disconnects the socket (no packet is sent), so nothing
// the kernel still holds can reach the server later.
func abort(tc *net.TCPConn) {
	if rc, err := tc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	}
}

// inNamespaceOf runs fn on a thread in the network namespace of the
// socket tc: a fallback or racing connection must start where the dial
// did, and the goroutine that starts the handshake (net/http's writer,
// say) may run on a thread in another namespace. The socket's namespace
// is read with SIOCGSKNS (Linux 4.9+); when it is the thread's own, or
// cannot be read, fn runs as is. Entering it needs CAP_SYS_ADMIN.
func inNamespaceOf(tc *net.TCPConn, fn func() error) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return fn()
	}
	nsFD, nerr := -1, error(nil)
	rc.Control(func(fd uintptr) { nsFD, nerr = unix.IoctlRetInt(int(fd), unix.SIOCGSKNS) })
	if nerr != nil || nsFD < 0 {
		return fn() // EPERM without CAP_NET_ADMIN, ENOTTY before 4.9
	}
	defer unix.Close(nsFD)
	runtime.LockOSThread()
	const self = "/proc/thread-self/ns/net"
	var want, have unix.Stat_t
	if unix.Fstat(nsFD, &want) != nil || unix.Stat(self, &have) != nil || want.Ino == have.Ino && want.Dev == have.Dev {
		runtime.UnlockOSThread()
		return fn()
	}
	orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return os.NewSyscallError("open "+self, err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return os.NewSyscallError("setns (enter the dial's network namespace)", err)
	}
	err = fn()
	if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread() // else the thread ends with the goroutine
	}
	return err
}
