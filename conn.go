package fastopen

import (
	"context"
	"errors"
	"io"
	"math"
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
//
// A lazy connection whose dial was bounded (Dialer.Timeout, Deadline, a
// ctx deadline), whose name had other addresses, or that races (Dialer
// Race) finishes its dial when the handshake starts: the operation that
// starts it (the first Write, or a Read, CloseWrite or empty Write) returns
// once the handshake is over, and meanwhile holds the first flight (that
// Write's bytes: what fits in the SYN and the rest of the same Write,
// nothing more) so that it can send it again on another connection.
type Conn struct {
	tc   atomic.Pointer[net.TCPConn] // replaced only while the handshake settles
	ext  atomic.Pointer[connExt]     // made when first needed (under mu), then kept
	path atomic.Pointer[pathEntry]   // the path memory's entry while the outcome is to be learned; nil once learned, or with nothing to learn (path_*.go)

	mu  sync.Mutex
	syn synRecord // what the write that sent the SYN put in it (info_*.go); under mu

	phase atomic.Uint32 // a phase; changed under mu
	net   netName       // the dial's network, for errors

	// What dialing learned (dialState), replaced with the socket (swap).
	off           Reason // why TFO was not requested (dialState.off)
	requested     bool   // TCP_FASTOPEN_CONNECT is set on the socket
	deferred      bool   // a cookie was cached: the SYN waits for the first write
	pathProbe     bool   // the dial tried TFO again after a backoff (pathState.probe)
	cookieReqLost bool   // the cookie request (or its SYN-ACK) was lost

	start  startKind // under mu
	closed bool      // Close was called; under mu
}

// connExt is the part of a Conn that only some connections need: a
// bounded or retried dial's plan, waiters, deadlines, a path memory's
// avoidance. A connection that is dialed, written, read and closed
// without them never makes one. Its fields are guarded by Conn.mu,
// except plan and wait, which are set before the Conn is returned.
type connExt struct {
	plan *dialPlan     // nil: the handshake is neither bounded nor retried
	wait time.Duration // FirstWriteWait; 0: DefaultFirstWriteWait

	failed error // why the handshake failed (phaseFailed)

	readDeadline deadline
	wrDeadline   deadline

	wake [numEvents]chan struct{} // made by waiters, closed when the event happens

	pathUntil deadline // TFO left out by the path memory until then (pathState.until)
	pathCause Reason   // ... because of this failure
	raced     bool     // a plain connection raced the SYN and won
}

// phase is where a connection is in its life; it only moves forward.
type phase uint32

const (
	// phaseDeferred: connect was deferred (a cookie is cached), nothing
	// was sent; the first Write's data will ride in the SYN.
	phaseDeferred phase = iota
	// phaseStarting: a Read, CloseWrite or empty Write is sending a SYN
	// without data; Writes wait, or their data would enter that SYN.
	phaseStarting
	// phaseSettling: the SYN is out and the operation that sent it waits
	// for the handshake (a bounded or retried dial); others wait.
	phaseSettling
	// phaseOpen: the socket is final: Reads and Writes go to it.
	phaseOpen
	// phaseFailed: the handshake failed for good (see dialPlan.failed).
	phaseFailed
)

// startKind is how the handshake started.
type startKind uint8

const (
	startNone   startKind = iota // not started (or not lazy: see dialState.deferred)
	startData                    // by a Write: its data went into the SYN
	startNoData                  // by a Read, CloseWrite or empty Write: a SYN without data
)

// event is what a goroutine can wait for on a Conn (eventLocked).
type event uint8

const (
	evStarted      event = iota // the handshake started (phase left phaseDeferred)
	evOpen                      // the socket is final (phaseOpen or phaseFailed)
	evClosed                    // Close was called
	evReadDeadline              // the read deadline changed (happens again at each change)
	numEvents
)

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// happenedLocked reports whether ev has happened. c.mu is held.
func (c *Conn) happenedLocked(ev event) bool {
	switch ev {
	case evStarted:
		return phase(c.phase.Load()) != phaseDeferred
	case evOpen:
		p := phase(c.phase.Load())
		return p == phaseOpen || p == phaseFailed
	case evClosed:
		return c.closed
	}
	return false
}

// eventLocked returns a channel closed when ev happens (already closed if
// it has). c.mu is held.
func (c *Conn) eventLocked(ev event) <-chan struct{} {
	if c.happenedLocked(ev) {
		return closedChan
	}
	x := c.extLocked()
	if x.wake[ev] == nil {
		x.wake[ev] = make(chan struct{})
	}
	return x.wake[ev]
}

// fireLocked wakes the goroutines waiting for ev, which has just happened.
// c.mu is held.
func (c *Conn) fireLocked(ev event) {
	if x := c.ext.Load(); x != nil && x.wake[ev] != nil {
		close(x.wake[ev])
		x.wake[ev] = nil
	}
}

// extLocked returns c's connExt, making it. c.mu is held (or c is not
// shared yet).
func (c *Conn) extLocked() *connExt {
	x := c.ext.Load()
	if x == nil {
		x = &connExt{}
		c.ext.Store(x)
	}
	return x
}

// plan returns the dial's plan, nil if the handshake needs none.
func (c *Conn) plan() *dialPlan {
	if x := c.ext.Load(); x != nil {
		return x.plan
	}
	return nil
}

// deadline is a deadline kept in 8 bytes: Unix nanoseconds, 0 for none.
type deadline int64

// deadlineOf returns t as a deadline: times before 1970 become 1 ns after
// (still past), times beyond 2262 the latest representable one.
func deadlineOf(t time.Time) deadline {
	switch {
	case t.IsZero():
		return 0
	case t.Before(time.Unix(0, 1)):
		return 1
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return deadline(t.UnixNano())
}

// time returns the deadline as a time.Time, zero for none.
func (d deadline) time() time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(d))
}

// dialState is what dialing learned about one socket.
type dialState struct {
	path      pathState // what the path memory decided (path.go); zero without
	network   netName
	requested bool   // TCP_FASTOPEN_CONNECT is set on the socket
	deferred  bool   // a cookie was cached: the SYN waits for the first write
	off       Reason // why TFO was not requested: ReasonDisabled (Dialer.Disable), ReasonKernelOff (client bit off), ReasonUnsupported, ReasonPathMemory
}

// netName is a dial's network, "tcp", "tcp4" or "tcp6" (checkNetwork),
// in one byte: a Conn holds it.
type netName uint8

const (
	netTCP netName = iota
	netTCP4
	netTCP6
)

func netNameOf(network string) netName {
	switch network {
	case "tcp4":
		return netTCP4
	case "tcp6":
		return netTCP6
	}
	return netTCP
}

func (n netName) String() string {
	switch n {
	case netTCP4:
		return "tcp4"
	case netTCP6:
		return "tcp6"
	}
	return "tcp"
}

// newConn returns the connection of socket tc, dialed as st says, with
// plan (nil: none) and FirstWriteWait wait.
func newConn(tc *net.TCPConn, st dialState, plan *dialPlan, wait time.Duration) *Conn {
	c := &Conn{net: st.network}
	c.tc.Store(tc)
	if plan != nil || wait != 0 {
		x := c.extLocked()
		x.plan, x.wait = plan, wait
	}
	c.setDialState(st)
	if !st.deferred {
		c.phase.Store(uint32(phaseOpen))
	}
	return c
}

// setDialState takes what dialing learned about the connection's socket.
// c.mu is held (or c is not shared yet).
func (c *Conn) setDialState(st dialState) {
	c.off, c.requested, c.deferred = st.off, st.requested, st.deferred
	c.setPathLocked(st.path)
}

// setPathLocked takes the path memory's decision for the socket. c.mu is
// held (or c is not shared yet).
func (c *Conn) setPathLocked(p pathState) {
	c.path.Store(p.learner())
	c.pathProbe, c.cookieReqLost = p.probe, p.cookieReqLost
	if p.skipped || c.ext.Load() != nil {
		x := c.extLocked()
		x.pathUntil, x.pathCause = p.until, p.cause // zero unless skipped
	}
}

// sock returns the current socket.
func (c *Conn) sock() *net.TCPConn { return c.tc.Load() }

// startHandshake moves a deferred connection to the started phase, once;
// it reports whether this call did it. startData: the caller's Write
// sends the SYN (and other Writes may follow it at once, unless the dial
// must settle).
func (c *Conn) startHandshake(how startKind) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if phase(c.phase.Load()) != phaseDeferred {
		return false
	}
	c.start = how
	switch {
	case c.plan() != nil:
		c.phase.Store(uint32(phaseSettling))
	case how == startData:
		c.setOpenLocked(nil) // the caller's write sends the SYN: others may write
	default:
		c.phase.Store(uint32(phaseStarting))
	}
	c.fireLocked(evStarted)
	return true
}

// setOpenLocked ends the handshake phases: the socket is final, or the
// handshake failed with err. c.mu is held.
func (c *Conn) setOpenLocked(err error) {
	if c.handshakingLocked() {
		// Write deadlines set meanwhile were only stored.
		c.sock().SetWriteDeadline(c.writeDeadlineLocked())
	}
	if err != nil {
		c.extLocked().failed = err
		c.phase.Store(uint32(phaseFailed))
	} else {
		c.phase.Store(uint32(phaseOpen))
	}
	c.fireLocked(evOpen)
}

func (c *Conn) setOpen(err error) {
	c.mu.Lock()
	c.setOpenLocked(err)
	c.mu.Unlock()
}

// startWithoutData starts the handshake without data if nothing started
// it yet. Until its data-less SYN is out (or, on a settling dial, until
// the handshake is over), Writes that find the handshake started wait:
// one that reached the socket first would put its data in the SYN that
// this call reported as empty. deadline bounds a settling handshake.
func (c *Conn) startWithoutData(deadline time.Time) error {
	if !c.startHandshake(startNoData) {
		return nil
	}
	if testHookBeforeTrigger != nil {
		testHookBeforeTrigger()
	}
	if c.plan() != nil {
		_, err := c.settle(nil, deadline)
		return err
	}
	err := trigger(c.sock())
	c.setOpen(nil)
	return err
}

// testHookWait, set by tests, runs when a Read or Write (op) is about to
// block waiting for the handshake to start or settle: a readiness signal.
var testHookWait func(op string)

// testHookBeforeTrigger, set by tests, runs between marking the handshake
// started and sending its data-less SYN: it widens that window.
var testHookBeforeTrigger func()

// Write writes b. On a lazy connection the first Write sends the SYN with
// (up to about one MSS of) b in it; the rest follows after the handshake.
// A first Write whose deadline has already passed fails without starting
// the handshake, so the connection stays as it was.
func (c *Conn) Write(b []byte) (int, error) {
	for {
		switch phase(c.phase.Load()) {
		case phaseOpen:
			return c.writeOn(c.sock(), b)
		case phaseFailed:
			return 0, c.failure()
		case phaseDeferred:
			return c.firstWrite(b)
		}
		if err := c.awaitOpen("write", c.writeDeadline()); err != nil {
			return 0, err
		}
	}
}

// firstWrite is the Write that finds the connection deferred.
func (c *Conn) firstWrite(b []byte) (int, error) {
	dl := c.writeDeadline()
	if !dl.IsZero() && !time.Now().Before(dl) {
		if c.isClosed() {
			return 0, c.opError("write", net.ErrClosed)
		}
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	if len(b) == 0 {
		if err := c.startWithoutData(dl); err != nil {
			return 0, c.startError("write", err)
		}
		return 0, nil
	}
	if !c.startHandshake(startData) {
		return c.Write(b) // started meanwhile, perhaps without data
	}
	if c.plan() != nil {
		return c.settle(b, dl)
	}
	return c.writeOn(c.sock(), b)
}

// writeOn writes b on tc, the connection's socket. The write that sends
// a deferred SYN (the first, or one racing it from another goroutine) may
// find the cookie cached at dial time gone (flushed, evicted, or active
// TFO disabled after a blackhole): the kernel then sends the SYN without
// data, takes none of b and fails with EINPROGRESS. b is then written
// after the handshake, as on any connection.
func (c *Conn) writeOn(tc *net.TCPConn, b []byte) (int, error) {
	n, err := c.writeRecordingSYN(tc, b)
	if n == 0 && len(b) > 0 && synLeftWithoutData(err) {
		c.mu.Lock()
		c.start = startNoData
		c.mu.Unlock()
		return tc.Write(b)
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
	for {
		switch phase(c.phase.Load()) {
		case phaseOpen:
			n, err := c.sock().Read(b)
			if n > 0 {
				c.observePath(false) // path memory: data came back, the handshake is over
			}
			return n, err
		case phaseFailed:
			return 0, c.failure()
		case phaseDeferred:
			if len(b) == 0 {
				return c.sock().Read(b)
			}
			if err := c.awaitFirstWrite(); err != nil {
				return 0, err
			}
		default:
			if err := c.awaitOpen("read", time.Time{}); err != nil {
				return 0, err
			}
		}
	}
}

// awaitFirstWrite is Read's wait for the first Write (see Read). It
// returns nil once the handshake has started, by a Write or by itself.
func (c *Conn) awaitFirstWrite() error {
	wait := DefaultFirstWriteWait
	if x := c.ext.Load(); x != nil && x.wait != 0 {
		wait = x.wait
	}
	end := time.Now().Add(wait)
	if err := c.await("read", evStarted, end); err != errWaitOver {
		return err
	}
	if err := c.startWithoutData(c.readDeadlineNow()); err != nil {
		return c.startError("read", err)
	}
	return nil
}

// awaitOpen waits until the socket is final. For op "read" the read
// deadline bounds the wait (also when it changes meanwhile); for "write"
// the write deadline given.
func (c *Conn) awaitOpen(op string, writeDeadline time.Time) error {
	err := c.await(op, evOpen, writeDeadline)
	if err == errWaitOver {
		return c.opError(op, os.ErrDeadlineExceeded)
	}
	return err
}

// errWaitOver: await's until passed.
var errWaitOver = errors.New("wait over")

// await waits until ev happens (nil), c is closed, the read deadline
// (op "read") passes, or until passes (errWaitOver; zero: never).
func (c *Conn) await(op string, ev event, until time.Time) error {
	for {
		now := time.Now()
		c.mu.Lock()
		var dl time.Time
		if op == "read" {
			dl = c.readDeadlineLocked()
		}
		if over, err := c.awaitOverLocked(op, ev, dl, until, now); over {
			c.mu.Unlock()
			return err
		}
		fire, closed := c.eventLocked(ev), c.eventLocked(evClosed)
		var changed <-chan struct{}
		if op == "read" {
			changed = c.eventLocked(evReadDeadline)
		}
		c.mu.Unlock()
		wake := until
		if !dl.IsZero() && (wake.IsZero() || dl.Before(wake)) {
			wake = dl
		}
		var timeout <-chan time.Time
		var t *time.Timer
		if !wake.IsZero() {
			t = time.NewTimer(wake.Sub(now))
			timeout = t.C
		}
		if testHookWait != nil {
			testHookWait(op)
		}
		select {
		case <-fire:
		case <-closed:
		case <-changed:
		case <-timeout:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// awaitOverLocked reports whether await's wait is over at now, and how:
// nil when ev happened, else await's error (dl is the read deadline for
// op "read"). c.mu is held.
func (c *Conn) awaitOverLocked(op string, ev event, dl, until, now time.Time) (bool, error) {
	switch {
	case c.happenedLocked(ev):
		return true, nil
	case c.closed:
		return true, c.opError(op, net.ErrClosed)
	case !dl.IsZero() && !now.Before(dl):
		return true, c.opError(op, os.ErrDeadlineExceeded)
	case !until.IsZero() && !now.Before(until):
		return true, errWaitOver
	}
	return false, nil
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// failure is the error of every operation on a connection whose
// handshake failed.
func (c *Conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.ext.Load(); x != nil {
		return x.failed
	}
	return nil
}

// opError wraps err the way package net reports errors on a connection.
func (c *Conn) opError(op string, err error) error {
	tc := c.sock()
	return &net.OpError{Op: op, Net: c.net.String(), Source: tc.LocalAddr(), Addr: tc.RemoteAddr(), Err: err}
}

// startError is the error of operation op whose start of the handshake
// failed with err: a settling handshake's failure is already the
// *net.OpError (Op "dial") every later operation gets, and is returned
// unchanged; anything else is wrapped for op.
func (c *Conn) startError(op string, err error) error {
	if _, ok := err.(*net.OpError); ok {
		return err
	}
	return c.opError(op, err)
}

// Close closes the connection. On a lazy connection that has not written,
// no packet was sent and none is.
func (c *Conn) Close() error {
	c.observePath(true) // path memory: last chance to learn the outcome
	c.mu.Lock()
	c.closed = true
	c.fireLocked(evClosed)
	c.mu.Unlock()
	return c.sock().Close()
}

// CloseWrite shuts down the writing side. On a lazy connection whose
// handshake is not over it first starts the handshake (without data) if
// nothing did, and waits for it, bounded by the write deadline (which it
// only reads): the kernel would abort a connection shut down in SYN_SENT,
// and the peer must see an orderly FIN.
func (c *Conn) CloseWrite() error {
	dl := c.writeDeadline()
	if err := c.startWithoutData(dl); err != nil {
		return c.startError("close", err)
	}
	if err := c.awaitOpen("write", dl); err != nil {
		return err
	}
	if err := c.failure(); err != nil {
		return err
	}
	if err := waitHandshake(context.Background(), c.sock(), dl); err != nil {
		return c.opError("close", err)
	}
	return c.sock().CloseWrite()
}

// firstChunk is the most ReadFrom reads for a first Write, which rides in
// the SYN: more than fits in one (about one MSS).
const firstChunk = 16 << 10

// ReadFrom implements io.ReaderFrom, so that io.Copy to a Conn reaches the
// *net.TCPConn's splice and sendfile paths. On a lazy connection that has
// not started, the first chunk of r (up to 16 KiB) is read and written
// with Write, so that it rides in the SYN; the rest goes to the socket.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		switch phase(c.phase.Load()) {
		case phaseOpen:
			m, err := c.sock().ReadFrom(r)
			return n + m, err
		case phaseFailed:
			return n, c.failure()
		case phaseDeferred:
			buf := make([]byte, firstChunk)
			m, rerr := r.Read(buf)
			if m > 0 {
				w, err := c.Write(buf[:m])
				n += int64(w)
				if err != nil {
					return n, err
				}
			}
			if rerr == io.EOF {
				return n, nil
			}
			if rerr != nil {
				return n, c.opError("readfrom", rerr) // as *net.TCPConn's ReadFrom
			}
		default:
			if err := c.awaitOpen("write", c.writeDeadline()); err != nil {
				return n, err
			}
		}
	}
}

// WriteTo implements io.WriterTo, so that io.Copy from a Conn reaches the
// *net.TCPConn's splice path. Before the handshake has started it reads
// the first bytes with Read (which waits for the first Write as Read
// does), then hands the socket over.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if phase(c.phase.Load()) != phaseOpen {
		buf := make([]byte, firstChunk)
		m, err := c.Read(buf)
		if m > 0 {
			k, werr := w.Write(buf[:m])
			n += int64(k)
			if werr != nil {
				return n, c.opError("writeto", werr) // as *net.TCPConn's WriteTo
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	m, err := c.sock().WriteTo(w)
	return n + m, err
}

// CloseRead shuts down the reading side.
func (c *Conn) CloseRead() error { return c.sock().CloseRead() }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.sock().LocalAddr() }

// RemoteAddr returns the remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.sock().RemoteAddr() }

// SetDeadline sets the read and write deadlines, also before the first
// Write. While a bounded handshake settles, the socket's write deadline
// is the dial's timer: the new write deadline is stored and applied when
// the handshake is over.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.deadlinesLocked(t); x != nil {
		x.readDeadline, x.wrDeadline = deadlineOf(t), deadlineOf(t)
	}
	c.fireLocked(evReadDeadline)
	if c.handshakingLocked() {
		return c.sock().SetReadDeadline(t)
	}
	return c.sock().SetDeadline(t)
}

// SetReadDeadline sets the read deadline; it also bounds the wait for the
// first Write in Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.deadlinesLocked(t); x != nil {
		x.readDeadline = deadlineOf(t)
	}
	c.fireLocked(evReadDeadline) // a Read waiting for the first Write looks at it
	return c.sock().SetReadDeadline(t)
}

// deadlinesLocked returns the connExt that keeps the deadlines, for
// setting one to t; nil when there is none and t is zero (none is kept
// as none). c.mu is held.
func (c *Conn) deadlinesLocked(t time.Time) *connExt {
	if x := c.ext.Load(); x != nil || !t.IsZero() {
		return c.extLocked()
	}
	return nil
}

// SetWriteDeadline sets the write deadline (stored only while a bounded
// handshake settles; see SetDeadline).
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.deadlinesLocked(t); x != nil {
		x.wrDeadline = deadlineOf(t)
	}
	if c.handshakingLocked() {
		return nil
	}
	return c.sock().SetWriteDeadline(t)
}

// handshakingLocked reports whether an operation is starting or settling
// the handshake: the socket's write deadline is then its timer, and
// setOpenLocked applies the caller's. c.mu is held.
func (c *Conn) handshakingLocked() bool {
	switch phase(c.phase.Load()) {
	case phaseStarting, phaseSettling:
		return true
	}
	return false
}

// NetConn returns the underlying *net.TCPConn. Writing to it directly
// bypasses the first-write bookkeeping that Info relies on.
func (c *Conn) NetConn() net.Conn { return c.sock() }

// SyscallConn returns the raw connection, for socket options. Until the
// handshake has started it hides the socket's poll descriptor from
// package os, whose zero-copy paths (io.Copy from an *os.File) would
// otherwise send the first bytes behind the connection's back, and Info
// could not tell whether they rode in the SYN; they go through ReadFrom
// instead. Afterwards it is the *net.TCPConn's.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.sock().SyscallConn()
	if err != nil || phase(c.phase.Load()) == phaseOpen {
		return rc, err
	}
	return rawConn{rc}, nil
}

// rawConn is a syscall.RawConn that offers nothing more.
type rawConn struct{ rc syscall.RawConn }

func (r rawConn) Control(f func(fd uintptr)) error    { return r.rc.Control(f) }
func (r rawConn) Read(f func(fd uintptr) bool) error  { return r.rc.Read(f) }
func (r rawConn) Write(f func(fd uintptr) bool) error { return r.rc.Write(f) }

// Info reports the connection's TCP Fast Open state; see InfoOf. It fails
// only if the socket cannot be queried (closed).
func (c *Conn) Info() (Info, error) { return c.info() }

func (c *Conn) dialError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		cp := *op // never change an error someone else may hold
		cp.Op = "dial"
		return &cp
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = os.ErrDeadlineExceeded
	}
	return c.opError("dial", err)
}

// aLongTimeAgo is a deadline in the past, used to interrupt a wait.
var aLongTimeAgo = time.Unix(1, 0)

// writeDeadline returns the write deadline the caller set.
func (c *Conn) writeDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeDeadlineLocked()
}

// writeDeadlineLocked returns the write deadline the caller set. c.mu is
// held.
func (c *Conn) writeDeadlineLocked() time.Time {
	if x := c.ext.Load(); x != nil {
		return x.wrDeadline.time()
	}
	return time.Time{}
}

// readDeadlineNow returns the read deadline the caller set.
func (c *Conn) readDeadlineNow() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readDeadlineLocked()
}

// readDeadlineLocked returns the read deadline the caller set. c.mu is
// held.
func (c *Conn) readDeadlineLocked() time.Time {
	if x := c.ext.Load(); x != nil {
		return x.readDeadline.time()
	}
	return time.Time{}
}

// awaitStart waits until the handshake of c has started (by a Write, a
// Read or CloseWrite) and, on a settling dial, is over; c is closed
// (net.ErrClosed) or ctx ends (its error). It starts nothing itself.
func (c *Conn) awaitStart(ctx context.Context) error {
	for _, ev := range [...]event{evStarted, evOpen} {
		c.mu.Lock()
		ch, closed := c.eventLocked(ev), c.eventLocked(evClosed)
		c.mu.Unlock()
		select {
		case <-ch:
			continue
		default:
		}
		select {
		case <-ch:
		case <-closed:
			return net.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return c.failure()
}

// connectError reports a failed handshake's errno as net.Dial does.
func connectError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return os.NewSyscallError("connect", errno)
	}
	return err
}

// ctxError turns a wait's deadline error into what ended it: ctx's
// cancellation (context.Canceled), or os.ErrDeadlineExceeded.
func ctxError(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return os.ErrDeadlineExceeded
}

// withWriteContext runs fn, which blocks in writes (or waits for
// writability) on tc, with ctx standing in for tc's write deadline; it
// then restores the deadline to what writeDeadline returns. If fn fails
// because ctx ended, the error is os.ErrDeadlineExceeded or ctx.Err().
// Only a caller that owns tc's writes may use it (DialData, before it
// returns the connection): it borrows the write deadline.
func withWriteContext(ctx context.Context, tc *net.TCPConn, writeDeadline func() time.Time, fn func() error) error {
	if ctx.Done() == nil {
		return fn()
	}
	if dl, ok := ctx.Deadline(); ok {
		tc.SetWriteDeadline(dl)
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		tc.SetWriteDeadline(aLongTimeAgo)
		close(interrupted)
	})
	err := fn()
	if !stop() {
		// ctx ended and the interrupt runs or ran: let it finish, or it
		// could put the deadline in the past after it is restored.
		<-interrupted
	}
	tc.SetWriteDeadline(writeDeadline())
	return ctxError(ctx, err)
}

// racedLocked reports whether a plain connection raced the SYN with data
// and won. c.mu is held.
func (c *Conn) racedLocked() bool {
	x := c.ext.Load()
	return x != nil && x.raced
}
