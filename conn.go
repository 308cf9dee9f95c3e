package fastopen

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is a client connection dialed by a Dialer. It is a net.Conn; its
// first Write rides in the SYN when the connection was dialed lazily with
// a cached cookie. Every order of calls works: a Read before any Write
// starts the handshake without data after FirstWriteWait, deadlines set
// before the first Write are honoured, and Close before any Write sends
// nothing and frees everything. As with package net's connections, its
// methods may be called from several goroutines at once (a reader and a
// writer, as net/http does). Errors are *net.OpError values as from a
// *net.TCPConn.
type Conn struct {
	tc   *net.TCPConn
	st   dialState
	wait time.Duration

	mu           sync.Mutex
	started      bool          // the SYN was (or is being) sent
	sentData     bool          // the first write had data and the SYN was deferred
	noData       bool          // the handshake started without data
	firstWrite   chan struct{} // closed when started becomes true
	synOut       chan struct{} // closed once data may follow the SYN (see startWithoutData)
	closed       chan struct{}
	closeOnce    sync.Once
	readDeadline time.Time
	rdChanged    chan struct{} // closed (and replaced) when readDeadline changes
	wrDeadline   time.Time

	pathObserved atomic.Bool // the path memory was told the outcome (path.go)
}

// dialState is what dialing learned.
type dialState struct {
	network     string
	address     string
	requested   bool       // TCP_FASTOPEN_CONNECT is set on the socket
	disabled    bool       // Dialer.Disable
	kernelOff   bool       // the kernel refused TCP_FASTOPEN_CONNECT (client bit off)
	unsupported bool       // no TFO on this platform or kernel
	deferred    bool       // a cookie was cached: the SYN waits for the first write
	path        *pathState // what the path memory decided (path.go); nil without

}

func newConn(tc *net.TCPConn, st dialState, wait time.Duration) *Conn {
	if wait == 0 {
		wait = DefaultFirstWriteWait
	}
	c := &Conn{tc: tc, st: st, wait: wait, firstWrite: make(chan struct{}), synOut: make(chan struct{}), closed: make(chan struct{}), rdChanged: make(chan struct{})}
	if !st.deferred {
		c.started = true
		close(c.firstWrite)
		close(c.synOut)
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
	if withData {
		close(c.synOut) // the caller's write sends the SYN: others may write
	}
	return true
}

// startWithoutData starts the handshake without data if nothing started
// it yet. Until its data-less SYN is out, writes that find the handshake
// started wait (on synOut): one that reached the socket first would put
// its data in the SYN that this call reported as empty.
func (c *Conn) startWithoutData() error {
	if !c.start(false) {
		return nil
	}
	defer close(c.synOut)
	if testHookBeforeTrigger != nil {
		testHookBeforeTrigger()
	}
	return c.trigger()
}

// testHookBeforeTrigger, set by tests, runs between marking the handshake
// started and sending its data-less SYN: it widens that window.
var testHookBeforeTrigger func()

// Write writes b. On a lazy connection the first Write sends the SYN with
// (up to about one MSS of) b in it; the rest follows after the handshake.
// A first Write whose deadline has already passed fails without starting
// the handshake, so the connection stays as it was.
func (c *Conn) Write(b []byte) (int, error) {
	select {
	case <-c.firstWrite:
		<-c.synOut
		return c.write(b)
	default:
	}
	c.mu.Lock()
	dl := c.wrDeadline
	c.mu.Unlock()
	if !dl.IsZero() && !time.Now().Before(dl) {
		if c.isClosed() {
			return 0, c.opError("write", net.ErrClosed)
		}
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	if len(b) == 0 {
		if err := c.startWithoutData(); err != nil {
			return 0, c.opError("write", err)
		}
		return 0, nil
	}
	if !c.start(true) {
		<-c.synOut // started meanwhile, perhaps without data
	}
	return c.write(b)
}

// write writes b on the socket. The write that sends a deferred SYN (the
// first, or one racing it from another goroutine) may find the cookie
// cached at dial time gone (flushed, evicted, or active TFO disabled
// after a blackhole): the kernel then sends the SYN without data, takes
// none of b and fails with EINPROGRESS. b is then written after the
// handshake, as on any connection.
func (c *Conn) write(b []byte) (int, error) {
	n, err := c.tc.Write(b)
	if n == 0 && len(b) > 0 && synLeftWithoutData(err) {
		c.mu.Lock()
		c.sentData = false
		c.mu.Unlock()
		return c.tc.Write(b)
	}
	return n, err
}

// Read reads from the connection. Before any Write on a lazy connection it
// first waits up to FirstWriteWait for a Write, then starts the handshake
// without data. The read deadline bounds that wait; a Read whose deadline
// passes (or is moved into the past) before the handshake starts fails
// with a timeout and leaves the connection unstarted. A zero-length Read
// returns at once, as on a *net.TCPConn, and starts nothing.
func (c *Conn) Read(b []byte) (int, error) {
	select {
	case <-c.firstWrite:
	default:
		if len(b) == 0 {
			return c.tc.Read(b)
		}
		if err := c.awaitFirstWrite(); err != nil {
			return 0, err
		}
	}
	n, err := c.tc.Read(b)
	if n > 0 {
		c.observePath(false) // path memory: data came back, the handshake is over
	}
	return n, err
}

// awaitFirstWrite is Read's wait for the first Write (see Read). It
// returns nil once the handshake has started, by a Write or by itself.
func (c *Conn) awaitFirstWrite() error {
	end := time.Now().Add(c.wait)
	for {
		c.mu.Lock()
		started, dl, changed := c.started, c.readDeadline, c.rdChanged
		c.mu.Unlock()
		if started {
			return nil
		}
		if c.isClosed() {
			return c.opError("read", net.ErrClosed)
		}
		now := time.Now()
		if !dl.IsZero() && !now.Before(dl) {
			return c.opError("read", os.ErrDeadlineExceeded)
		}
		until := end
		if !dl.IsZero() && dl.Before(until) {
			until = dl
		}
		if !now.Before(until) {
			break
		}
		t := time.NewTimer(until.Sub(now))
		select {
		case <-c.firstWrite:
		case <-c.closed:
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
	if err := c.startWithoutData(); err != nil {
		return c.opError("read", err)
	}
	return nil
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// opError wraps err the way package net reports errors on a connection.
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.st.network, Source: c.tc.LocalAddr(), Addr: c.tc.RemoteAddr(), Err: err}
}

// Close closes the connection. On a lazy connection that has not written,
// no packet was sent and none is.
func (c *Conn) Close() error {
	c.observePath(true) // path memory: last chance to learn the outcome
	c.closeOnce.Do(func() { close(c.closed) })
	return c.tc.Close()
}

// CloseWrite shuts down the writing side. On a lazy connection whose
// handshake is not over it first starts the handshake (without data) if
// nothing did, and waits for it, bounded by the write deadline: the
// kernel would abort a connection shut down in SYN_SENT, and the peer
// must see an orderly FIN.
func (c *Conn) CloseWrite() error {
	if err := c.startWithoutData(); err != nil {
		return c.opError("close", err)
	}
	if err := c.waitEstablished(context.Background()); err != nil {
		return c.opError("close", err)
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
	c.readDeadlineChanged()
	c.mu.Unlock()
	return c.tc.SetDeadline(t)
}

// SetReadDeadline sets the read deadline; it also bounds the wait for the
// first Write in Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.readDeadlineChanged()
	c.mu.Unlock()
	return c.tc.SetReadDeadline(t)
}

// readDeadlineChanged wakes Reads waiting for the first Write so that they
// look at the new deadline. c.mu is held.
func (c *Conn) readDeadlineChanged() {
	close(c.rdChanged)
	c.rdChanged = make(chan struct{})
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

// Info reports the connection's TCP Fast Open state; see InfoOf. It fails
// only if the socket cannot be queried (closed).
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

// writeDeadline returns the write deadline the caller set.
func (c *Conn) writeDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrDeadline
}

// waitEstablished blocks until the handshake is over (or failed), honouring
// ctx. It restores the write deadline the caller had set.
func (c *Conn) waitEstablished(ctx context.Context) error {
	return connectError(waitHandshake(ctx, c.tc, c.writeDeadline))
}

// connectError reports a failed handshake's errno as net.Dial does.
func connectError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return os.NewSyscallError("connect", errno)
	}
	return err
}

// waitHandshake waits for tc's handshake, honouring ctx through the write
// deadline, which it then restores to what writeDeadline returns. When the
// handshake is already over it returns at once and leaves the deadline
// alone.
func waitHandshake(ctx context.Context, tc *net.TCPConn, writeDeadline func() time.Time) error {
	if done, err := handshakeOver(tc); done {
		return err
	}
	return withWriteContext(ctx, tc, writeDeadline, func() error { return awaitHandshake(tc) })
}

// withWriteContext runs fn, which blocks in writes (or waits for
// writability) on tc, with ctx standing in for tc's write deadline; it
// then restores the deadline to what writeDeadline returns. If fn fails
// because ctx ended, the error is os.ErrDeadlineExceeded or ctx.Err().
func withWriteContext(ctx context.Context, tc *net.TCPConn, writeDeadline func() time.Time, fn func() error) error {
	if dl, ok := ctx.Deadline(); ok {
		tc.SetWriteDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { tc.SetWriteDeadline(aLongTimeAgo) })
	err := fn()
	stop()
	tc.SetWriteDeadline(writeDeadline())
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) || ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err()
			}
			return os.ErrDeadlineExceeded
		}
	}
	return err
}
