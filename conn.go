package fastopen

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Conn is a client connection dialed by a Dialer. It is a net.Conn; its
// first Write rides in the SYN when the connection was dialed lazily with
// a cached cookie. Every order of calls works: a Read before any Write
// starts the handshake without data after FirstWriteWait, deadlines set
// before the first Write are honoured, and Close before any Write sends
// nothing and frees everything.
type Conn struct {
	tc   *net.TCPConn
	st   dialState
	wait time.Duration

	mu           sync.Mutex
	started      bool          // the SYN was (or is being) sent
	sentData     bool          // the first write had data and the SYN was deferred
	noData       bool          // the handshake started without data
	firstWrite   chan struct{} // closed when started becomes true
	closed       chan struct{}
	closeOnce    sync.Once
	readDeadline time.Time
	wrDeadline   time.Time
}

// dialState is what dialing learned.
type dialState struct {
	network     string
	address     string
	requested   bool // TCP_FASTOPEN_CONNECT is set on the socket
	disabled    bool // Dialer.Disable
	kernelOff   bool // the kernel refused TCP_FASTOPEN_CONNECT (client bit off)
	unsupported bool // no TFO on this platform or kernel
	deferred    bool // a cookie was cached: the SYN waits for the first write
}

func newConn(tc *net.TCPConn, st dialState, wait time.Duration) *Conn {
	if wait == 0 {
		wait = DefaultFirstWriteWait
	}
	c := &Conn{tc: tc, st: st, wait: wait, firstWrite: make(chan struct{}), closed: make(chan struct{})}
	if !st.deferred {
		c.started = true
		close(c.firstWrite)
	}
	return c
}

// start marks the SYN as sent, once; it reports whether this call did it.
func (c *Conn) start(withData bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return false
	}
	c.started = true
	c.sentData = withData
	c.noData = !withData
	close(c.firstWrite)
	return true
}

// Write writes b. On a lazy connection the first Write sends the SYN with
// (up to about one MSS of) b in it; the rest follows after the handshake.
func (c *Conn) Write(b []byte) (int, error) {
	if c.start(len(b) > 0) && len(b) == 0 {
		return 0, c.trigger()
	}
	return c.tc.Write(b)
}

// Read reads from the connection. Before any Write on a lazy connection it
// first waits up to FirstWriteWait (bounded by the read deadline) for a
// Write, then starts the handshake without data.
func (c *Conn) Read(b []byte) (int, error) {
	select {
	case <-c.firstWrite:
	default:
		c.mu.Lock()
		wait := c.wait
		if dl := c.readDeadline; !dl.IsZero() {
			if until := time.Until(dl); until < wait {
				wait = until
			}
		}
		c.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-c.firstWrite:
			case <-c.closed:
			case <-t.C:
			}
			t.Stop()
		}
		if c.start(false) {
			if err := c.trigger(); err != nil {
				return 0, &net.OpError{Op: "read", Net: c.st.network, Source: c.tc.LocalAddr(), Addr: c.tc.RemoteAddr(), Err: err}
			}
		}
	}
	return c.tc.Read(b)
}

// Close closes the connection. On a lazy connection that has not written,
// no packet was sent and none is.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.tc.Close()
}

// CloseWrite shuts down the writing side. On a lazy connection that has
// not started, it first completes the handshake (without data), so that
// the peer sees an orderly FIN rather than nothing.
func (c *Conn) CloseWrite() error {
	if c.start(false) {
		if err := c.trigger(); err != nil {
			return &net.OpError{Op: "close", Net: c.st.network, Source: c.tc.LocalAddr(), Addr: c.tc.RemoteAddr(), Err: err}
		}
	}
	if err := c.waitEstablished(context.Background()); err != nil {
		return &net.OpError{Op: "close", Net: c.st.network, Source: c.tc.LocalAddr(), Addr: c.tc.RemoteAddr(), Err: err}
	}
	return c.tc.CloseWrite()
}

// CloseRead shuts down the reading side.
func (c *Conn) CloseRead() error { return c.tc.CloseRead() }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.tc.LocalAddr() }

// RemoteAddr returns the remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.tc.RemoteAddr() }

// SetDeadline sets the read and write deadlines, also before the first
// Write.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline, c.wrDeadline = t, t
	c.mu.Unlock()
	return c.tc.SetDeadline(t)
}

// SetReadDeadline sets the read deadline; it also bounds the wait for the
// first Write in Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	return c.tc.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wrDeadline = t
	c.mu.Unlock()
	return c.tc.SetWriteDeadline(t)
}

// NetConn returns the underlying *net.TCPConn. Writing to it directly
// bypasses the first-write bookkeeping that Info relies on.
func (c *Conn) NetConn() net.Conn { return c.tc }

// SyscallConn returns the raw connection, for socket options.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.tc.SyscallConn() }

// Info reports the connection's TCP Fast Open state; see InfoOf.
func (c *Conn) Info() (Info, error) { return c.info() }

func (c *Conn) dialError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		op.Op = "dial"
		return op
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = os.ErrDeadlineExceeded
	}
	return &net.OpError{Op: "dial", Net: c.st.network, Source: c.tc.LocalAddr(), Addr: c.tc.RemoteAddr(), Err: err}
}

// aLongTimeAgo is a deadline in the past, used to interrupt a wait.
var aLongTimeAgo = time.Unix(1, 0)

// waitEstablished blocks until the handshake is over (or failed), honouring
// ctx. It restores the write deadline the caller had set.
func (c *Conn) waitEstablished(ctx context.Context) error {
	err := waitHandshake(ctx, c.tc, func() time.Time {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.wrDeadline
	})
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return os.NewSyscallError("connect", errno) // as net.Dial reports it
	}
	return err
}

// waitHandshake waits for tc's handshake, honouring ctx through the write
// deadline, which it then restores to what writeDeadline returns.
func waitHandshake(ctx context.Context, tc *net.TCPConn, writeDeadline func() time.Time) error {
	if dl, ok := ctx.Deadline(); ok {
		tc.SetWriteDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { tc.SetWriteDeadline(aLongTimeAgo) })
	err := awaitHandshake(tc)
	stopped := stop()
	tc.SetWriteDeadline(writeDeadline())
	if !stopped && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return os.ErrDeadlineExceeded
		}
		return ctx.Err()
	}
	return err
}
