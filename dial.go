package fastopen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
)

// Dialer dials TCP connections whose first bytes ride in the SYN. The zero
// value is ready to use; the embedded net.Dialer's fields (Timeout,
// Deadline, LocalAddr, KeepAlive, Control, ControlContext, Resolver,
// FallbackDelay, ...) work as in package net, also on a lazy connection:
// see DialContext.
//
// TFO needs a cookie from the server, obtained on a first connection (the
// "cold" one, which costs the usual round trip and asks for the cookie).
// Later connections to the same server IP carry the cookie and the data.
//
// A Dialer may be used by several goroutines at once, as long as its
// fields are not changed meanwhile.
type Dialer struct {
	net.Dialer

	// Disable dials plain TCP (no TCP_FASTOPEN_CONNECT). Info then reports
	// ReasonDisabled. Useful for comparisons.
	Disable bool

	// Require makes a dial fail, with an *Error matching ErrNotUsed (or
	// errors.ErrUnsupported on platforms without TFO), when the SYN cannot
	// carry data: the kernel's client bit is off, no cookie is cached for
	// the server yet (ReasonNoCookie), or the kernel paused client TFO
	// after a suspected blackhole (ReasonUnknown). No data is sent in
	// that case, so nothing is lost.
	// Whether the server then accepts the SYN data is for Info to tell.
	Require bool

	// FirstWriteWait is how long a Read on a lazy connection, before any
	// Write, waits for that Write before starting the handshake without
	// data (a time.Duration: e.g. 10 * time.Millisecond). It lets clients
	// that read and write from separate goroutines (net/http) still put
	// their request in the SYN, while server-speaks-first protocols (SMTP,
	// SSH) do not hang. Zero means DefaultFirstWriteWait; negative means
	// do not wait.
	FirstWriteWait time.Duration

	// Race bounds the cost of a path that drops SYNs carrying data. When
	// a lazy connection's SYN with data gets no SYN-ACK within RaceDelay,
	// a plain connection (no TFO) to the same address is opened in
	// parallel and sent the same first flight; whichever handshake
	// completes first is kept and the other is closed. A path that eats
	// SYN data then costs RaceDelay plus a round trip instead of the
	// kernel's SYN retransmission timeout (1 s, then more).
	//
	// Set it only when the first flight is idempotent (safe to run
	// twice), as HTTP GET is: if the SYN reached the server and only its
	// SYN-ACK was lost, a TFO server has the data already, and the plain
	// connection delivers it a second time. That is why it is off by
	// default.
	Race bool

	// RaceDelay is how long a racing connection waits for the SYN-ACK
	// before it opens the plain connection. Zero derives it from the
	// destination's RTT in the kernel's TCP metrics cache (twice the RTT
	// plus four variations, 10 ms to 900 ms), or DefaultRaceDelay when
	// the cache holds none (or cannot be read).
	RaceDelay time.Duration
}

// DefaultRaceDelay is the race delay when Dialer.RaceDelay is zero and
// no RTT is cached for the destination: above round trips on most paths,
// well below the kernel's initial SYN retransmission timeout (1 s, RFC
// 6298).
const DefaultRaceDelay = 200 * time.Millisecond

// Dial connects to address on the named network ("tcp", "tcp4", "tcp6")
// with a zero Dialer; see Dialer.DialContext. Other networks fail with a
// *net.OpError wrapping net.UnknownNetworkError.
func Dial(network, address string) (net.Conn, error) {
	var d Dialer
	return d.DialContext(context.Background(), network, address)
}

// Dial is DialContext with context.Background().
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects lazily: when a cookie for the server is cached it
// returns at once without sending anything, and the first Write sends the
// SYN with that data. Without a cookie it performs an ordinary handshake
// that asks the server for one. The returned net.Conn is a *Conn.
//
// Because the SYN may not be sent until the first Write, errors such as
// "connection refused" can surface on the first Write or Read instead of
// here; use DialData to learn them at dial time.
//
// The dial contract of net.Dialer holds for the lazy handshake: it gets
// the time the dial had left when DialContext returned (the least of
// Timeout, Deadline and ctx's deadline), counted from the moment the SYN
// leaves. A handshake not over by then fails like a net.Dialer dial that
// timed out (a *net.OpError with Op "dial" whose error is a timeout and
// matches os.ErrDeadlineExceeded and context.DeadlineExceeded) and
// matches ErrNotDelivered. A cancellation of ctx after DialContext
// returned does not affect the connection, as with net.Dialer. For a name
// with several addresses, the next one is tried, as net.Dialer does (each
// getting its share of the time left; the first address of the other
// family in parallel after FallbackDelay), and the first flight is sent
// again there. The operation that starts such a bounded
// handshake returns once it is over; see Conn.
//
// Addresses should be IP literals when the dialing goroutine runs in a
// network namespace other than the process's: name resolution may happen
// on other threads.
//
// Errors are *net.OpError values as from net.Dialer. With Require set, a
// dial whose SYN could not carry data fails with one wrapping an *Error
// (errors.Is(err, ErrNotUsed)), and nothing has been sent.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.dial(ctx, network, address, false)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialData connects and sends data in the SYN (when a cookie is cached),
// and returns once the handshake is over, so refused and unreachable
// errors surface here as with net.Dial. If data is empty the handshake
// carries no data. Info on the returned connection tells whether the
// server accepted the data in the SYN; if it did not, the kernel has
// retransmitted it after the handshake and nothing is lost.
//
// ctx, Timeout and Deadline bound the whole call, including a Write of
// data too large for the SYN. Errors are *net.OpError values with Op
// "dial"; Require works as for DialContext.
func (d *Dialer) DialData(ctx context.Context, network, address string, data []byte) (*Conn, error) {
	ctx, cancel := d.dialContext(ctx)
	defer cancel()
	c, err := d.dial(ctx, network, address, true)
	if err != nil {
		return nil, err
	}
	// Data too large for the SYN blocks the Write until the handshake is
	// over: ctx bounds both.
	err = withWriteContext(ctx, c.sock(), c.writeDeadline, func() error {
		if _, err := c.Write(data); err != nil {
			return err
		}
		return connectError(awaitHandshake(c.sock()))
	})
	if err != nil {
		c.Close()
		return nil, c.dialError(err)
	}
	return c, nil
}

// dialContext applies the embedded Dialer's Timeout and Deadline to ctx,
// so that the wait for the handshake in DialData honours them too.
func (d *Dialer) dialContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := d.deadline(ctx, time.Now())
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

// deadline returns the earliest of now+Timeout, Deadline and ctx's
// deadline, as net.Dialer computes it; zero when none is set.
func (d *Dialer) deadline(ctx context.Context, now time.Time) time.Time {
	deadline := d.Deadline
	if d.Timeout > 0 {
		if t := now.Add(d.Timeout); deadline.IsZero() || t.Before(deadline) {
			deadline = t
		}
	}
	if dl, ok := ctx.Deadline(); ok && (deadline.IsZero() || dl.Before(deadline)) {
		deadline = dl
	}
	return deadline
}

// tcpConn returns nc as a *net.TCPConn, or closes it and fails: a Dialer
// whose embedded net.Dialer was made to return something else.
func tcpConn(nc net.Conn, network string) (*net.TCPConn, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("net.Dialer returned a %T: %w", nc, ErrNotTCP)}
	}
	return tc, nil
}

func checkNetwork(op, network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return &net.OpError{Op: op, Net: network, Addr: nil, Err: net.UnknownNetworkError(network + " (fastopen supports tcp, tcp4, tcp6)")}
}

// resolve returns the addresses to try for address, in order, when its
// host is a name; nil when it is an IP literal (net.Dialer then dials it
// as given).
//
// The order is net.Dialer's (the resolver's, RFC 6724, the family of the
// first address before the other), except that addresses for which the
// kernel holds a TFO cookie come first: their data can ride in the SYN.
func (d *Dialer) resolve(ctx context.Context, network, address string) ([]string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return nil, nil // net reports it
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil, nil
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ipNet := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := r.LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if len(ips) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "no suitable address found", Addr: host}}
	}
	if len(ips) == 1 { // dialed as a literal: no second lookup
		return []string{net.JoinHostPort(ips[0].Unmap().String(), port)}, nil
	}
	paths := lookupPaths(ips...)
	out := make([]string, 0, len(ips))
	for pass := 0; pass < 4; pass++ {
		cookie, first := pass < 2, pass%2 == 0
		for i, ip := range ips {
			if paths[i].cookie == cookie && (ip.Unmap().Is4() == ips[0].Unmap().Is4()) == first {
				out = append(out, net.JoinHostPort(ip.Unmap().String(), port))
			}
		}
	}
	return out, nil
}

// dialSerial dials addrs in order until one answers, giving each its
// share of the time left, as net.Dialer does; it returns the rest.
func (d *Dialer) dialSerial(ctx context.Context, network string, addrs []string, deadline time.Time) (*net.TCPConn, dialState, []string, error) {
	var firstErr error
	for i, a := range addrs {
		actx := ctx
		if pd := partialDeadline(time.Now(), deadline, len(addrs)-i); !pd.IsZero() {
			var cancel context.CancelFunc
			actx, cancel = context.WithDeadline(ctx, pd)
			defer cancel()
		}
		tc, st, err := d.dialAddr(actx, network, a)
		if err == nil {
			return tc, st, addrs[i+1:], nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, dialState{}, nil, firstErr
}

// partialDeadline is net.Dialer's: the deadline for one of
// addrsRemaining addresses, an even share of the time left but at least
// two seconds (or all that is left).
func partialDeadline(now, deadline time.Time, addrsRemaining int) time.Time {
	if deadline.IsZero() {
		return deadline
	}
	left := deadline.Sub(now)
	if left <= 0 {
		return deadline
	}
	share := left / time.Duration(addrsRemaining)
	const saneMinimum = 2 * time.Second
	if share < saneMinimum {
		share = min(left, saneMinimum)
	}
	return now.Add(share)
}

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
	err error // the last attempt's: timeoutError, ECONNREFUSED, ...
	n   int   // bytes the caller wrote that were not delivered
}

func (e *handshakeError) Error() string {
	return e.err.Error() + " (handshake not completed: " + strconv.Itoa(e.n) + " bytes written, none acknowledged)"
}

func (e *handshakeError) Unwrap() []error { return []error{e.err, ErrNotDelivered} }

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
	raced bool // a plain connection that raced a SYN with data
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
	p := c.plan
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
				c.swap(won.tc, won.st, won.raced)
				n = won.n
			}
			c.setOpen(nil)
			return n, nil
		}
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
			if derr == nil {
				if c.swap(ntc, st, false) {
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
		err = &handshakeError{err: err, n: n}
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
		tc, st, err = p.d.dialAddr(ctx, p.network, address)
		return err
	})
	return tc, st, err
}

// swap makes tc the connection's socket, closing the one it replaces; it
// fails (closing tc) when the connection was closed meanwhile.
func (c *Conn) swap(tc *net.TCPConn, st dialState, raced bool) bool {
	c.mu.Lock()
	if c.closed.fired {
		c.mu.Unlock()
		tc.Close()
		return false
	}
	old := c.tc.Swap(tc)
	st.address = c.st.address
	c.st = st
	c.raced = raced
	wd, rd := c.wrDeadline, c.readDeadline
	c.mu.Unlock()
	old.Close()
	tc.SetWriteDeadline(wd)
	tc.SetReadDeadline(rd)
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
	if p := c.plan; p.ctx != nil {
		stop := context.AfterFunc(p.ctx, cancel)
		defer stop()
	}
	results := make(chan *attempt, 1)
	go func() {
		results <- c.plan.start(ctx, tc, par, b)
		in.interrupt()
	}()
	tc.SetWriteDeadline(dl)
	in.begin(tc)
	var m int
	select {
	case r := <-results: // done while this goroutine was getting ready
		results <- r
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
		a.tc, a.st, err = d.dialAddr(ctx, p.network, par.addr)
		return err
	})
	if a.err != nil {
		return a
	}
	a.err = withWriteContext(ctx, a.tc, func() time.Time { return time.Time{} }, func() error {
		var err error
		if b == nil {
			err = trigger(a.tc)
		} else if a.n, err = a.tc.Write(b); a.n == 0 && synLeftWithoutData(err) {
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
		n, err = tc.Write(b[from:])
		if n == 0 && len(b) > from && synLeftWithoutData(err) {
			c.mu.Lock()
			c.start = startNoData
			c.mu.Unlock()
			n, err = tc.Write(b[from:])
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
