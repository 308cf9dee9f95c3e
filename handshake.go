package fastopen

import (
	"context"
	"fmt"
	"net"
	"time"
)

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
// It never touches the connection's deadlines: it waits in the netpoller
// on a second descriptor of the socket, so concurrent Reads, Writes and
// Set*Deadline calls are unaffected.
//
// A handshake that fails or is not over when ctx ends gives a
// *net.OpError with Op "handshake" (wrapping os.ErrDeadlineExceeded,
// context.Canceled or the socket's error, e.g. ECONNRESET); a lazy
// connection that has not started returns ctx.Err() when ctx ends. A
// connection that is not TCP is an error matching ErrNotTCP.
func Handshake(ctx context.Context, c net.Conn) error {
	var err error
	switch v := c.(type) {
	case *Conn:
		if err = v.awaitStart(ctx); err != nil {
			if err == ctx.Err() || v.failure() != nil {
				return err // ctx's error as is; a failed dial's *net.OpError
			}
			break
		}
		err = waitHandshake(ctx, v.sock(), time.Time{})
	case *ServerConn:
		err = waitHandshake(ctx, v.TCPConn, time.Time{})
	case *net.TCPConn:
		err = waitHandshake(ctx, v, time.Time{})
	case interface{ NetConn() net.Conn }:
		return Handshake(ctx, v.NetConn())
	default:
		return fmt.Errorf("fastopen: Handshake: %T: %w", c, ErrNotTCP)
	}
	if err != nil {
		return &net.OpError{Op: "handshake", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return nil
}
