package fastopen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// ListenConfig listens with TCP Fast Open enabled. The zero value is ready
// to use (queue length DefaultQueueLen, the namespace's cookie key); the
// embedded net.ListenConfig's fields (Control, KeepAlive, ...) work as in
// package net.
type ListenConfig struct {
	net.ListenConfig

	// QueueLen is the TFO queue length (the TCP_FASTOPEN value, the
	// walkthrough's 5): how many connections whose SYN carried data may
	// await the end of their handshake at once. Zero means
	// DefaultQueueLen; negative is an error.
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
	// server bit is off or the platform has no TFO.
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
// server bit is off or the platform has no TFO, it still listens (plain
// TCP) and Listener.FastOpen says why, unless Require is set: then it
// fails with an *Error matching ErrNotUsed or errors.ErrUnsupported.
// Other errors are *net.OpError values as from net.ListenConfig.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	l, err := lc.listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Listener is a TCP listener with TFO. It is a net.Listener, and like
// one its methods may be called from several goroutines at once.
type Listener struct {
	tl        *net.TCPListener
	requested bool
	disabled  bool
	kernelOff bool
	queueLen  int
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

// FastOpen reports whether TFO is enabled on the listener, and if not why
// (ReasonDisabled, ReasonUnsupported or ReasonKernelOff).
func (l *Listener) FastOpen() (bool, Reason) {
	switch {
	case l.disabled:
		return false, ReasonDisabled
	case !l.requested:
		return false, ReasonUnsupported
	case l.kernelOff:
		return false, ReasonKernelOff
	}
	return true, ReasonNone
}

// QueueLen returns the TFO queue length set on the listener: the
// configured one, or DefaultQueueLen; 0 when TFO is disabled or the
// platform has none.
func (l *Listener) QueueLen() int { return l.queueLen }

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

	mu         sync.Mutex
	wrDeadline time.Time
}

// SetDeadline sets the read and write deadlines.
func (s *ServerConn) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.wrDeadline = t
	s.mu.Unlock()
	return s.TCPConn.SetDeadline(t)
}

// SetWriteDeadline sets the write deadline.
func (s *ServerConn) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.wrDeadline = t
	s.mu.Unlock()
	return s.TCPConn.SetWriteDeadline(t)
}

// Handshake waits until c's TCP handshake has completed, honouring ctx.
//
// On a server, a connection whose first bytes arrived in the SYN is
// accepted, and its data readable, before the handshake completes. Such
// data can be a replay: a duplicated SYN (by the network, or an attacker
// who copied it) is answered with a SYN-ACK that the real client never
// acknowledges, so its handshake never completes. A server that performs
// a non-idempotent action only after Handshake returns nil cannot be made
// to perform it by a replayed SYN; idempotent requests can be answered at
// once and keep TFO's saving. On other connections Handshake returns at
// once. On a Dialer's lazy connection that has not started, it does not
// start the handshake: it waits for it.
//
// While it waits it uses the connection's write deadline for ctx, and
// restores the caller's deadline afterwards (on a plain *net.TCPConn,
// whose deadline cannot be read back, it clears it). When there is
// nothing to wait for it leaves the deadline alone.
//
// A handshake that fails or is not over when ctx ends gives a
// *net.OpError with Op "handshake" (wrapping os.ErrDeadlineExceeded,
// context.Canceled or the socket's error, e.g. ECONNRESET); a lazy
// connection that has not started returns ctx.Err() when ctx ends. A
// connection that is not TCP is an error.
func Handshake(ctx context.Context, c net.Conn) error {
	var err error
	switch v := c.(type) {
	case *Conn:
		select {
		case <-v.firstWrite:
		case <-v.closed:
			err = net.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
		if err != nil {
			break
		}
		err = v.waitEstablished(ctx)
	case *ServerConn:
		err = waitHandshake(ctx, v.TCPConn, func() time.Time {
			v.mu.Lock()
			defer v.mu.Unlock()
			return v.wrDeadline
		})
	case *net.TCPConn:
		err = waitHandshake(ctx, v, func() time.Time { return time.Time{} })
	case interface{ NetConn() net.Conn }:
		return Handshake(ctx, v.NetConn())
	default:
		return fmt.Errorf("fastopen: Handshake: %T is not a TCP connection", c)
	}
	if err != nil {
		return &net.OpError{Op: "handshake", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return nil
}

// Info reports the connection's TCP Fast Open state; see InfoOf.
func (s *ServerConn) Info() (Info, error) { return s.info() }

// InfoOf reports what is known about TCP Fast Open on c: a *Conn from a
// Dialer, a *ServerConn from a Listener, any connection with a NetConn
// method leading to one (such as *tls.Conn), or any other TCP connection
// that exposes its socket (syscall.Conn; then Side is SideUnknown). It
// fails for nil, for a connection that is not TCP, and when the socket
// cannot be queried (closed).
func InfoOf(c net.Conn) (Info, error) {
	switch v := c.(type) {
	case *Conn:
		return v.info()
	case *ServerConn:
		return v.info()
	case interface{ NetConn() net.Conn }:
		return InfoOf(v.NetConn())
	case syscall.Conn:
		return infoOfSyscallConn(v)
	case nil:
		return Info{}, errors.New("fastopen: InfoOf: nil connection")
	}
	return Info{}, fmt.Errorf("fastopen: InfoOf: %T is not a TCP connection", c)
}

// tcpListener returns nl as a *net.TCPListener, or closes it and fails.
func tcpListener(nl net.Listener, network, address string) (*net.TCPListener, error) {
	tl, ok := nl.(*net.TCPListener)
	if !ok {
		nl.Close()
		return nil, listenError(network, address, errors.New("fastopen: not a TCP listener"))
	}
	return tl, nil
}

func listenError(network, address string, err error) error {
	return &net.OpError{Op: "listen", Net: network, Err: err, Addr: nil, Source: nil}
}
