package fastopen

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"reflect"
	"syscall"
	"time"
)

// ListenConfig listens with TCP Fast Open enabled. The zero value is ready
// to use (queue length DefaultQueueLen, the namespace's cookie key); the
// embedded net.ListenConfig's fields (Control, KeepAlive, ...) work as in
// package net.
//
// A ListenConfig listens with plain TCP unless the caller asked for
// Multipath TCP explicitly with SetMultipathTCP(true): Go 1.24 and later
// listen with MPTCP by default, and kernels before Linux 6.2 refuse
// TCP_FASTOPEN on MPTCP sockets (net/mptcp/sockopt.c learned it in 6.2).
// When MPTCP was asked for and the kernel refuses TFO on it, Listen falls
// back to a plain TCP listener with TFO, as net falls back to TCP when
// MPTCP is unavailable; Listener.MultipathTCP reports which one the
// kernel holds.
type ListenConfig struct {
	net.ListenConfig

	// QueueLen is the TFO queue length (the TCP_FASTOPEN value, the
	// walkthrough's 5): how many connections whose SYN carried data may
	// await the end of their handshake at once. Zero means
	// DefaultQueueLen; negative, or more than a C int holds (2147483647),
	// is an error. The kernel caps it at net.core.somaxconn;
	// Listener.QueueLen reports the length it holds.
	QueueLen int

	// Key, if set, is the listener's cookie key (TCP_FASTOPEN_KEY) instead
	// of the namespace-wide one. Servers sharing a key accept each other's
	// cookies. BackupKey is a second key also accepted for incoming
	// cookies, for rotation: put the new key in Key and the old one in
	// BackupKey (Linux 5.8+). Per-listener keys need Linux 5.3+; on older
	// kernels Listen fails with an error wrapping errors.ErrUnsupported.
	Key       *Key
	BackupKey *Key

	// Disable listens without TFO.
	Disable bool

	// Require makes Listen fail, with an *Error matching ErrNotUsed (or
	// errors.ErrUnsupported), when TFO cannot be enabled: the kernel's
	// server bit is off, the kernel's mode cannot be read (/proc/sys
	// unreadable), the kernel did not keep the option, or the platform
	// has no TFO.
	Require bool
}

// Listen listens on address ("tcp", "tcp4", "tcp6") with a zero
// ListenConfig; see ListenConfig.Listen.
func Listen(network, address string) (net.Listener, error) {
	var lc ListenConfig
	return lc.Listen(context.Background(), network, address)
}

// Listen announces on the local address. The returned net.Listener is a
// *Listener whose Accept returns *ServerConn values. If the kernel's
// server bit is off, its mode cannot be read or the platform has no TFO,
// it still listens (plain TCP) and Listener.FastOpen says why, unless
// Require is set: then it fails with a *net.OpError wrapping an *Error
// that matches ErrNotUsed or errors.ErrUnsupported. Every error is a
// *net.OpError with Op "listen", as from net.ListenConfig.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	l, err := lc.listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// checkQueueLen returns the queue length to set for QueueLen q, or an
// error saying what is wrong with it.
func checkQueueLen(q int) (int, error) {
	switch {
	case q == 0:
		return DefaultQueueLen, nil
	case q < 0:
		return 0, fmt.Errorf("fastopen: QueueLen %d is negative: use 0 for DefaultQueueLen or a positive queue length", q)
	case q > math.MaxInt32:
		return 0, fmt.Errorf("fastopen: QueueLen %d does not fit the kernel's int (at most %d; the kernel caps it at net.core.somaxconn anyway)", q, math.MaxInt32)
	}
	return q, nil
}

// multipathAsked reports whether the caller asked for MPTCP explicitly
// (SetMultipathTCP(true)), as opposed to Go's default. MultipathTCP
// alone cannot tell them apart; a config that already says "enabled"
// is left unchanged by SetMultipathTCP(true).
func multipathAsked(lc *net.ListenConfig) bool {
	if !lc.MultipathTCP() {
		return false
	}
	a := *lc
	a.Control = nil // funcs are never DeepEqual
	b := a
	b.SetMultipathTCP(true)
	return reflect.DeepEqual(a, b)
}

// Listener is a TCP listener with TFO. It is a net.Listener, and like
// one its methods may be called from several goroutines at once.
type Listener struct {
	tl        *net.TCPListener
	requested bool   // the kernel accepted TCP_FASTOPEN on the socket
	why       Reason // why TFO is off; ReasonNone when on
	queueLen  int    // read back from the kernel
	mptcp     bool   // the socket is MPTCP, read back from the kernel
}

// Accept waits for the next connection and returns it as a *ServerConn.
// A connection whose data came in the SYN is returned as soon as the SYN
// arrives, before the handshake completes, so the reply can go out at once.
func (l *Listener) Accept() (net.Conn, error) {
	tc, err := l.tl.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return &ServerConn{TCPConn: tc, l: l, synBytes: synBytesAtAccept(tc)}, nil
}

// Close stops listening.
func (l *Listener) Close() error { return l.tl.Close() }

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.tl.Addr() }

// SetDeadline sets a deadline for Accept.
func (l *Listener) SetDeadline(t time.Time) error { return l.tl.SetDeadline(t) }

// SyscallConn returns the raw listening socket.
func (l *Listener) SyscallConn() (syscall.RawConn, error) { return l.tl.SyscallConn() }

// TCPListener returns the underlying *net.TCPListener.
func (l *Listener) TCPListener() *net.TCPListener { return l.tl }

// FastOpen reports whether TFO is enabled on the listener, and if not why:
// ReasonDisabled, ReasonUnsupported (no TFO on this platform, or the
// kernel did not keep the option), ReasonKernelOff (net.ipv4.tcp_fastopen
// lacks the server bit 0x2), or ReasonUnknown (the kernel's mode could
// not be read: the option is set, but whether the kernel acts on it is
// not known).
func (l *Listener) FastOpen() (bool, Reason) { return l.why == ReasonNone, l.why }

// QueueLen returns the TFO queue length the kernel holds for the listener,
// read back with getsockopt(TCP_FASTOPEN) after listening: the configured
// one (or DefaultQueueLen) capped by net.core.somaxconn. It is 0 when
// TFO is disabled or the platform has none.
func (l *Listener) QueueLen() int { return l.queueLen }

// MultipathTCP reports whether the listening socket is Multipath TCP, as
// the kernel says (SO_PROTOCOL). It is false unless the ListenConfig
// asked for MPTCP and the kernel accepted TFO on an MPTCP socket.
func (l *Listener) MultipathTCP() bool { return l.mptcp }

// SetKey replaces the listener's cookie key while it runs; backup (may be
// nil) is also accepted for incoming cookies. Use it to rotate keys. On
// kernels before 5.3 the error wraps errors.ErrUnsupported; see
// SetListenerKey.
func (l *Listener) SetKey(primary Key, backup *Key) error {
	rc, err := l.tl.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = SetListenerKey(fd, primary, backup) }); err != nil {
		return err
	}
	return serr
}

// ServerConn is a connection accepted from a Listener. It embeds
// *net.TCPConn, so every method of that type is available.
//
// A connection whose first bytes came in the SYN is accepted before the
// client's final ACK: its data may be a replayed SYN. See Handshake.
type ServerConn struct {
	*net.TCPConn
	l        *Listener
	synBytes int
}

// Info reports the connection's TCP Fast Open state; see InfoOf.
func (s *ServerConn) Info() (Info, error) { return s.info() }

// tcpListener returns nl as a *net.TCPListener, or closes it and fails.
func tcpListener(nl net.Listener, network, address string) (*net.TCPListener, error) {
	tl, ok := nl.(*net.TCPListener)
	if !ok {
		nl.Close()
		return nil, listenError(network, address, fmt.Errorf("%T: %w", nl, ErrNotTCP))
	}
	return tl, nil
}

// listenError wraps err as package net reports a failed listen, naming
// the address: resolved when it is an IP literal, as given otherwise.
func listenError(network, address string, err error) error {
	return &net.OpError{Op: "listen", Net: network, Addr: addrOf(network, address), Err: err}
}

// refuseListen is Require's error for a listen on which TFO cannot be
// enabled (why, err: see Error).
func refuseListen(network, address string, why Reason, err error) error {
	return listenError(network, address, &Error{Op: "listen", Net: network, Addr: address, Reason: why, Err: err})
}

// addrOf returns address as a net.Addr: a *net.TCPAddr for an IP literal
// with a port, otherwise the text as given.
func addrOf(network, address string) net.Addr {
	if ap, err := netip.ParseAddrPort(address); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return textAddr{network, address}
}

// textAddr is an address that was not resolved, kept as text.
type textAddr struct{ network, address string }

func (a textAddr) Network() string { return a.network }
func (a textAddr) String() string  { return a.address }
