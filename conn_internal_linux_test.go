package fastopen

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// loopbackPair returns a connected pair of TCP connections on the
// loopback of the current namespace (no root needed).
func loopbackPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no IPv4 loopback: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestWithWriteContextWaitsForInterrupt: when ctx ends just as fn
// succeeds, the interrupt that puts the write deadline in the past runs
// concurrently; withWriteContext must wait for it before restoring the
// caller's deadline, or the connection is left with every write timing
// out (what DialData would return).
func TestWithWriteContextWaitsForInterrupt(t *testing.T) {
	c, _ := loopbackPair(t)
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		err := withWriteContext(ctx, c, func() time.Time { return time.Time{} }, func() error {
			cancel() // ctx ends as fn succeeds
			return nil
		})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		runtime.Gosched() // a late interrupt would run now
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("run %d: write after withWriteContext: %v (the interrupt ran after the deadline was restored)", i, err)
		}
	}
}

// TestWaitHandshakeLeavesDeadlines: waiting for a handshake (Handshake,
// CloseWrite) must not borrow the connection's write deadline: a
// deadline the caller sets meanwhile is kept, and a Write blocked
// meanwhile is not cut short by the wait's ctx.
func TestWaitHandshakeLeavesDeadlines(t *testing.T) {
	c, _ := loopbackPair(t)
	past := time.Now().Add(-time.Second)
	c.SetWriteDeadline(past)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := waitHandshake(ctx, c, time.Time{}); err != nil {
		t.Fatalf("waitHandshake on an established connection: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write after waitHandshake: %v; the caller's past deadline was changed", err)
	}
}
