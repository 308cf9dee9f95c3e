package echo_test

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastopen/fastopen/echo"
)

// countingListener reports every Accept call as it starts.
type countingListener struct {
	net.Listener
	calls chan int
	n     atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	l.calls <- int(l.n.Add(1))
	return l.Listener.Accept()
}

// endedHandler counts the "connection" lines: one per connection served
// to its end.
type endedHandler struct{ ended atomic.Int32 }

func (h *endedHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *endedHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "connection" {
		h.ended.Add(1)
	}
	return nil
}
func (h *endedHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *endedHandler) WithGroup(string) slog.Handler      { return h }

// TestMaxConns: with MaxConns 2 and two idle connections, Serve does not
// call Accept a third time until one of them has ended.
func TestMaxConns(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner, calls: make(chan int, 8)}
	h := &endedHandler{}
	srv := &echo.Server{MaxConns: 2, Logger: slog.New(h), IdleTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	next := func() int {
		select {
		case n := <-ln.calls:
			return n
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not call Accept")
			return 0
		}
	}
	var clients []net.Conn
	for i := 1; i <= 2; i++ {
		if n := next(); n != i {
			t.Fatalf("accept call %d, want %d", n, i)
		}
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	// A third client waits in the accept queue.
	c3, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	clients[0].Close()
	if n := next(); n != 3 {
		t.Fatalf("accept call %d, want 3", n)
	}
	if e := h.ended.Load(); e != 1 {
		t.Fatalf("the third Accept started with %d connections ended, want 1: MaxConns not applied", e)
	}
}
