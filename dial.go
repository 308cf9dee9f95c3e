package fastopen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
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
// After TFO failed on a path (a lost SYN with data, a lost cookie request)
// a Dialer dials that destination without TFO for a while; see PathMemory.
// The zero Dialer shares DefaultPathMemory with the process's other
// Dialers.
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
	// after a suspected blackhole (ReasonUnknown), or the path memory
	// leaves TFO out (ReasonPathMemory). No data is sent in that case, so
	// nothing is lost. On a lazy connection the same holds for the other
	// addresses of a name (fallback, Happy Eyeballs): one without a
	// cookie is refused and the next tried; if none can carry the data,
	// the first Write fails with an error matching ErrNotDelivered and
	// ErrNotUsed. Require cannot be combined with Race (ErrRaceRequire).
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
	// default. A Dialer with Require set refuses to dial with Race
	// (ErrRaceRequire): the plain connection cannot carry data in its SYN.
	Race bool

	// RaceDelay is how long a racing connection waits for the SYN-ACK
	// before it opens the plain connection. Zero derives it from the
	// destination's RTT in the kernel's TCP metrics cache (twice the RTT
	// plus four variations, 10 ms to 900 ms), or DefaultRaceDelay when
	// the cache holds none (or cannot be read).
	RaceDelay time.Duration

	// PathMemory remembers per destination how TFO fared and makes dials
	// leave TFO out for a while after it failed (see PathMemory). Nil
	// means DefaultPathMemory, shared by the process's Dialers.
	PathMemory *PathMemory
	// IgnorePathMemory makes every dial try TFO whatever happened before,
	// and teaches the memory nothing: for measuring TFO itself.
	IgnorePathMemory bool
}

// ErrRaceRequire is the error (inside a *net.OpError) of a dial with
// both Race and Require set: the racing plain connection would deliver
// the first flight without TFO, which Require forbids.
var ErrRaceRequire = errors.New("fastopen: Dialer.Race and Require set together: the racing plain connection would carry the data without TCP Fast Open; set one of them")

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
	c.observePath(false) // path memory: the handshake's outcome is known
	return c, nil
}

// dialContext applies the embedded Dialer's Timeout and Deadline to ctx,
// so that the wait for the handshake in DialData honours them too. With
// neither, ctx serves as it is (a derived context would cost allocations
// per dial and bound nothing more).
func (d *Dialer) dialContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := d.deadline(ctx, time.Now())
	if deadline.IsZero() {
		return ctx, func() {}
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

func checkNetwork(op, network string) error {
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
