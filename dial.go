package fastopen

import (
	"context"
	"errors"
	"net"
	"time"
)

// Dialer dials TCP connections whose first bytes ride in the SYN. The zero
// value is ready to use; the embedded net.Dialer's fields (Timeout,
// Deadline, LocalAddr, KeepAlive, Control, ControlContext, ...) work as
// in package net.
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
	// after a suspected blackhole (ReasonUnknown). No data is sent in
	// that case, so nothing is lost.
	// Whether the server then accepts the SYN data is for Info to tell.
	Require bool

	// FirstWriteWait is how long a Read on a lazy connection, before any
	// Write, waits for that Write before starting the handshake without
	// data (a time.Duration: e.g. 10 * time.Millisecond). It lets clients that read and write from separate goroutines
	// (net/http) still put their request in the SYN, while server-speaks-
	// first protocols (SMTP, SSH) do not hang. Zero means
	// DefaultFirstWriteWait; negative means do not wait.
	FirstWriteWait time.Duration

	// PathMemory remembers per destination how TFO fared and makes dials
	// leave TFO out for a while after it failed (see PathMemory). Nil
	// means DefaultPathMemory, shared by the process's Dialers.
	PathMemory *PathMemory
	// IgnorePathMemory makes every dial try TFO whatever happened before,
	// and teaches the memory nothing: for measuring TFO itself.
	IgnorePathMemory bool
}

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
// Addresses should be IP literals when the dialing goroutine runs in a
// network namespace other than the process's: name resolution may happen
// on other threads.
//
// Errors are *net.OpError values as from net.Dialer. With Require set, a
// dial whose SYN could not carry data fails with one wrapping an *Error
// (errors.Is(err, ErrNotUsed)), and nothing has been sent.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.dial(ctx, network, address)
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
	c, err := d.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	// Data too large for the SYN blocks the Write until the handshake is
	// over: ctx bounds both.
	err = withWriteContext(ctx, c.tc, c.writeDeadline, func() error {
		if _, err := c.Write(data); err != nil {
			return err
		}
		return connectError(awaitHandshake(c.tc))
	})
	if err != nil {
		c.Close()
		return nil, c.dialError(err)
	}
	c.observePath(false) // path memory: the handshake's outcome is known
	return c, nil
}

// dialContext applies the embedded Dialer's Timeout and Deadline to ctx,
// so that the wait for the handshake in DialData honours them too.
func (d *Dialer) dialContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := d.Deadline
	if d.Timeout > 0 {
		if t := time.Now().Add(d.Timeout); deadline.IsZero() || t.Before(deadline) {
			deadline = t
		}
	}
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

// tcpConn returns nc as a *net.TCPConn, or closes it and fails: a Dialer
// whose embedded net.Dialer was made to return something else.
func tcpConn(nc net.Conn, network string) (*net.TCPConn, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("fastopen: dialer returned a non-TCP connection")}
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
