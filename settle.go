package fastopen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
)

// How a lazy connection finishes its dial when the handshake starts:
// bounded by the time the dial had left, falling back to the next
// address, racing a plain connection or the other family (see
// Dialer.DialContext and Dialer.Race).

// pathCache is what the kernel's TCP metrics cache holds for one
// destination (in the calling thread's network namespace), as
// lookupPaths reads it.
type pathCache struct {
	rtt, rttVar time.Duration // the smoothed RTT saved from the last connection; 0: none
	cookie      bool          // a TFO cookie is cached
}

// raceDelay is the race delay for a destination whose cached RTT is
// pc's: the time by which a SYN-ACK is overdue (twice the RTT plus four
// variations, as an RTO with margin), at least 10 ms, and below the
// kernel's initial SYN retransmission timeout (1 s), beyond which racing
// gains nothing. Without a cached RTT it is DefaultRaceDelay.
func raceDelay(pc pathCache) time.Duration {
	if pc.rtt <= 0 {
		return DefaultRaceDelay
	}
	return min(max(2*pc.rtt+4*pc.rttVar, 10*time.Millisecond), 900*time.Millisecond)
}

// dialPlan is what a lazy connection needs to finish its dial when its
// handshake starts: the time the dial had left, the addresses not tried
// yet, whether to race a plain connection.
type dialPlan struct {
	d       Dialer // a copy: the caller may change its Dialer later
	network string
	budget  time.Duration   // 0: unbounded (the kernel's SYN retries)
	rest    []string        // addresses to fall back to, in order
	race    time.Duration   // 0: no race
	ctx     context.Context // DialData's: its cancellation ends the wait
	refused error           // Require refused a fallback or parallel address (its *Error)
}

// newPlan returns the plan of a lazy connection dialed with deadline, or
// nil when its handshake needs none (not bounded, no other address, no
// race): then the first Write returns as soon as its SYN is out. eager
// (DialData) makes ctx's cancellation end the handshake too.
func (d *Dialer) newPlan(ctx context.Context, network string, remote net.Addr, rest []string, deadline time.Time, eager bool) *dialPlan {
	var budget time.Duration
	if !deadline.IsZero() {
		if budget = time.Until(deadline); budget <= 0 {
			budget = time.Nanosecond
		}
	}
	if budget == 0 && len(rest) == 0 && !d.Race {
		return nil
	}
	p := &dialPlan{d: *d, network: network, budget: budget, rest: rest}
	if d.Race {
		p.race = d.RaceDelay
		if p.race <= 0 {
			var pc pathCache
			if ta, ok := remote.(*net.TCPAddr); ok {
				pc = lookupPaths(ta.AddrPort().Addr())[0]
			}
			p.race = raceDelay(pc)
		}
	}
	if eager {
		p.ctx = ctx
	}
	return p
}

// ErrNotDelivered is matched (errors.Is) by the error of a lazy
// connection whose handshake failed, or did not complete in the time the
// dial had (see Dialer.DialContext): the server never acknowledged the
// first flight the caller wrote, and the connection is unusable. (If the
// SYN reached a TFO server and only its answer was lost, the server may
// have read the data: see Dialer.Race.)
var ErrNotDelivered = errors.New("first flight not delivered")

// handshakeError is the error of a lazy connection whose handshake failed.
type handshakeError struct {
	err     error // the last attempt's: timeoutError, ECONNREFUSED, ...
	n       int   // bytes the caller wrote that were not delivered
	refused error // Require refused another address (an *Error), or nil
}

func (e *handshakeError) Error() string {
	s := e.err.Error() + " (handshake not completed: " + strconv.Itoa(e.n) + " bytes written, none acknowledged)"
	if r, ok := e.refused.(*Error); ok && e.refused != e.err {
		s += "; " + r.Addr + " refused: " + r.Error()
	}
	return s
}

func (e *handshakeError) Unwrap() []error {
	if e.refused != nil && e.refused != e.err {
		return []error{e.err, ErrNotDelivered, e.refused}
	}
	return []error{e.err, ErrNotDelivered}
}

// Timeout reports whether the handshake ran out of time.
func (e *handshakeError) Timeout() bool {
	t, ok := e.err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

// timeoutError is a dial's timeout, as net.Dialer reports it ("i/o
// timeout", matching context.DeadlineExceeded), also matching
// os.ErrDeadlineExceeded.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(err error) bool {
	return err == context.DeadlineExceeded || err == os.ErrDeadlineExceeded
}

// attempt is a connection tried in parallel with the current one.
type attempt struct {
	tc    *net.TCPConn
	st    dialState
	n     int
	err   error
	raced bool       // a plain connection that raced a SYN with data
	mu    sync.Mutex // guards syn
	syn   synRecord  // what its SYN carried, when it was deferred
}

// parallel is the connection a settling handshake starts beside its
// first one when that one has no SYN-ACK after delay: a plain connection
// to the same address (Dialer.Race), or the first address of the other
// family, as net.Dialer's Happy Eyeballs (RFC 8305) does after
// FallbackDelay.
type parallel struct {
	addr  string
	plain bool
	delay time.Duration
}

// parallel returns the parallel attempt for a handshake on tc, taking its
// address out of the plan's rest; nil when there is none.
func (p *dialPlan) parallel(tc *net.TCPConn) *parallel {
	if p.race > 0 {
		return &parallel{addr: tc.RemoteAddr().String(), plain: true, delay: p.race}
	}
	ra, ok := tc.RemoteAddr().(*net.TCPAddr)
	if p.network != "tcp" || p.d.FallbackDelay < 0 || !ok {
		return nil
	}
	for i, a := range p.rest {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || ap.Addr().Unmap().Is4() == (ra.IP.To4() != nil) {
			continue
		}
		p.rest = append(p.rest[:i:i], p.rest[i+1:]...)
		delay := p.d.FallbackDelay
		if delay == 0 {
			delay = 300 * time.Millisecond // net.Dialer's default
		}
		return &parallel{addr: a, delay: delay}
	}
	return nil
}

// interrupter wakes the settling goroutine's wait on tc (by moving tc's
// write deadline into the past), only while that wait runs, so that the
// deadline the caller set is never left in the past.
type interrupter struct {
	mu      sync.Mutex
	tc      *net.TCPConn
	waiting bool
}

func (in *interrupter) begin(tc *net.TCPConn) {
	in.mu.Lock()
	in.tc, in.waiting = tc, true
	in.mu.Unlock()
}

func (in *interrupter) end() {
	in.mu.Lock()
	in.waiting = false
	in.mu.Unlock()
}

func (in *interrupter) interrupt() {
	in.mu.Lock()
	if in.waiting {
		in.tc.SetWriteDeadline(aLongTimeAgo)
	}
	in.mu.Unlock()
}

// settle sends the first flight b (nil: a SYN without data) and waits for
// the handshake, within the plan: bounded by the dial's budget and by
// opDeadline (the caller's deadline for this operation), racing a plain
// connection, falling back to the next address. It returns how much of b
// was written, and ends the handshake phases either way.
func (c *Conn) settle(b []byte, opDeadline time.Time) (int, error) {
	p := c.plan()
	var end time.Time
	if p.budget > 0 {
		end = time.Now().Add(p.budget)
	}
	var in interrupter
	if p.ctx != nil {
		stop := context.AfterFunc(p.ctx, in.interrupt)
		defer stop()
	}
	par := p.parallel(c.sock())
	for {
		tc := c.sock()
		dl := earliest(partialDeadline(time.Now(), end, 1+len(p.rest)), opDeadline)
		n, won, err := c.attempt(tc, b, dl, par, &in)
		par = nil // only the first address races
		if err == nil {
			if won != nil {
				if !won.raced {
					c.observeAbandoned(tc, false) // path memory: a probe of tc's address ends
				}
				c.swap(won.tc, won.st, won.raced, &won.syn)
				n = won.n
			}
			c.setOpen(nil)
			return n, nil
		}
		// Path memory, before abort ends its SYN_SENT: ran it out of time
		// (not cancelled by DialData's ctx)?
		timedOut := errors.Is(err, os.ErrDeadlineExceeded) && (p.ctx == nil || !errors.Is(p.ctx.Err(), context.Canceled))
		c.observeAbandoned(tc, timedOut)
		abort(tc)
		if c.isClosed() {
			err = net.ErrClosed
		} else if p.ctx != nil && p.ctx.Err() != nil {
			err = p.ctx.Err()
		}
		out := time.Now()
		for err != net.ErrClosed && len(p.rest) > 0 && (end.IsZero() || out.Before(end)) && (opDeadline.IsZero() || out.Before(opDeadline)) && (p.ctx == nil || p.ctx.Err() == nil) {
			next := p.rest[0]
			p.rest = p.rest[1:]
			ntc, st, derr := p.dialNext(tc, end, next)
			p.noteRefusal(derr)
			if derr == nil {
				if c.swap(ntc, st, false, nil) {
					err = nil
				} else {
					err = net.ErrClosed
				}
				break
			}
			err = derr
		}
		if err == nil {
			continue // try the new socket
		}
		return 0, c.fail(err, len(b))
	}
}

// fail ends a settling handshake that failed with err, having written n
// bytes that were not delivered.
func (c *Conn) fail(err error, n int) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		err = timeoutError{}
	case err == net.ErrClosed, errors.Is(err, context.Canceled):
	default:
		err = connectError(err)
	}
	if err != net.ErrClosed {
		err = &handshakeError{err: err, n: n, refused: c.plan().refused}
	}
	ferr := c.opError("dial", err)
	c.setOpen(ferr)
	return ferr
}

// dialNext dials the next address of the plan, bounded by end, in the
// network namespace of cur, the socket it replaces.
func (p *dialPlan) dialNext(cur *net.TCPConn, end time.Time, address string) (*net.TCPConn, dialState, error) {
	ctx := context.Background()
	if p.ctx != nil {
		ctx = p.ctx
	}
	if !end.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, partialDeadline(time.Now(), end, 1+len(p.rest)))
		defer cancel()
	}
	var tc *net.TCPConn
	var st dialState
	err := inNamespaceOf(cur, func() (err error) {
		tc, st, err = p.d.dialRequired(ctx, p.network, address)
		return err
	})
	return tc, st, err
}

// noteRefusal keeps err if it is Require's refusal of an address, for
// the error of a handshake that fails (see handshakeError). Only the
// settling goroutine calls it.
func (p *dialPlan) noteRefusal(err error) {
	if _, ok := err.(*Error); ok && p.refused == nil {
		p.refused = err
	}
}

// swap makes tc the connection's socket, closing the one it replaces; it
// fails (closing tc) when the connection was closed meanwhile. syn is
// what tc's SYN carried (nil: it has not left yet); a racing plain
// connection keeps the record of the SYN with data it replaced.
func (c *Conn) swap(tc *net.TCPConn, st dialState, raced bool, syn *synRecord) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		tc.Close()
		return false
	}
	old := c.tc.Swap(tc)
	if raced {
		// A plain connection to the same address won the race: what the
		// path memory learns (a lost SYN with data, observePath) is about
		// the dial's own decision for that address, probe included.
		c.off, c.requested, c.deferred = st.off, st.requested, st.deferred
	} else {
		c.syn.resetLocked(syn)
		c.setDialState(st)
	}
	c.extLocked().raced = raced
	tc.SetWriteDeadline(c.writeDeadlineLocked()) // until the next attempt, or setOpen
	tc.SetReadDeadline(c.readDeadlineLocked())
	c.mu.Unlock()
	old.Close()
	return true
}

// attempt writes b on tc (or sends a SYN without data) and waits for its
// handshake until dl. With par, a parallel connection starts when tc has
// no SYN-ACK after par.delay, and the first to complete its handshake
// wins: won is the parallel one if it did.
func (c *Conn) attempt(tc *net.TCPConn, b []byte, dl time.Time, par *parallel, in *interrupter) (n int, won *attempt, err error) {
	defer tc.SetWriteDeadline(c.writeDeadline())
	wait := dl
	if par != nil {
		wait = earliest(time.Now().Add(par.delay), dl)
	}
	tc.SetWriteDeadline(wait)
	in.begin(tc)
	n, err = c.writeAndAwait(tc, b, 0)
	in.end()
	if par == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !dl.IsZero() && (!wait.Before(dl) || !time.Now().Before(dl)) {
		return n, nil, err
	}
	if over, _ := handshakeOver(tc); over {
		return n, nil, err
	}
	// No SYN-ACK within the delay: the parallel connection starts.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if !dl.IsZero() {
		var cancelDL context.CancelFunc
		ctx, cancelDL = context.WithDeadline(ctx, dl)
		defer cancelDL()
	}
	if p := c.plan(); p.ctx != nil {
		stop := context.AfterFunc(p.ctx, cancel)
		defer stop()
	}
	// Close ends the parallel dial too, as it ends the wait on tc.
	c.mu.Lock()
	closed := c.eventLocked(evClosed)
	c.mu.Unlock()
	go func() {
		select {
		case <-closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	results := make(chan *attempt, 1)
	go func() {
		r := c.plan().start(ctx, tc, par, b)
		results <- r
		if r.err == nil {
			in.interrupt() // it won: end the wait on tc; a failed one leaves tc its chance
		}
	}()
	tc.SetWriteDeadline(dl)
	in.begin(tc)
	var m int
	select {
	case r := <-results: // done while this goroutine was getting ready
		results <- r
		if r.err != nil { // it failed: tc keeps its chance
			m, err = c.writeAndAwait(tc, b, n)
		}
	default:
		m, err = c.writeAndAwait(tc, b, n)
	}
	in.end()
	n += m
	if over, herr := handshakeOver(tc); over && herr == nil && err == nil {
		cancel()
		if r := <-results; r.tc != nil {
			r.tc.Close()
		}
		return n, nil, nil
	}
	r := <-results
	if r.err == nil {
		return n, r, nil
	}
	c.plan().noteRefusal(r.err)
	if r.tc != nil {
		r.tc.Close()
	}
	return n, nil, err
}

// start runs a parallel attempt to its end: it dials (in the namespace of
// tc, the first connection), sends b (nil: a SYN without data) and waits
// for the handshake, all bounded by ctx.
func (p *dialPlan) start(ctx context.Context, tc *net.TCPConn, par *parallel, b []byte) *attempt {
	d := p.d
	d.Disable = par.plain
	a := &attempt{raced: par.plain}
	a.err = inNamespaceOf(tc, func() (err error) {
		a.tc, a.st, err = d.dialRequired(ctx, p.network, par.addr)
		return err
	})
	if a.err != nil {
		return a
	}
	a.err = withWriteContext(ctx, a.tc, func() time.Time { return time.Time{} }, func() error {
		var err error
		switch {
		case b == nil:
			err = trigger(a.tc)
		case a.st.deferred:
			a.n, err = writeRecording(a.tc, &a.mu, &a.syn, b) // Info learns what its SYN carried
		default:
			a.n, err = a.tc.Write(b)
		}
		if b != nil && a.n == 0 && synLeftWithoutData(err) {
			a.n, err = a.tc.Write(b) // the cookie went: sent after the handshake
		}
		if err != nil {
			return err
		}
		return connectError(awaitHandshake(a.tc))
	})
	return a
}

// writeAndAwait writes b[from:] on tc (nil b: sends a SYN without data)
// and waits for the handshake, both bounded by tc's write deadline.
func (c *Conn) writeAndAwait(tc *net.TCPConn, b []byte, from int) (int, error) {
	var n int
	if b == nil {
		if err := trigger(tc); err != nil {
			return 0, err
		}
	} else if from < len(b) {
		var err error
		if from == 0 {
			n, err = c.writeOn(tc, b) // the first flight: Info learns what the SYN carried
		} else {
			n, err = tc.Write(b[from:]) // the SYN has left
		}
		if err != nil {
			return n, err
		}
	}
	return n, connectError(awaitHandshake(tc))
}

// earliest returns the earlier of two deadlines, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
