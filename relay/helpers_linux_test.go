package relay_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/relay"
)

// inHost returns a Relay.DialData that dials from h's network namespace
// with d: the relay's goroutines run on threads of the test's own
// namespace.
func inHost(h *lab.Host, d *fastopen.Dialer) func(ctx context.Context, network, address string, data []byte) (net.Conn, error) {
	return func(ctx context.Context, network, address string, data []byte) (net.Conn, error) {
		var c *fastopen.Conn
		err := h.Run(func() (err error) {
			c, err = d.DialData(ctx, network, address, data)
			return err
		})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// serve runs r on a listener made in h by lc at addr and returns the
// listening address. When the test ends it checks that no connection is
// still relayed, then closes r.
func serve(t *testing.T, h *lab.Host, lc labtest.Listener, addr string, r *relay.Relay) string {
	t.Helper()
	ln := labtest.Listen(t, h, lc, "tcp4", addr)
	done := make(chan error, 1)
	go func() { done <- r.Serve(ln) }()
	t.Cleanup(func() {
		if err := waitFor(func() bool { return r.Stats().Active == 0 }); err != nil {
			t.Errorf("relay to %s: %d connections still relayed after the test: %+v", r.To, r.Stats().Active, r.Stats())
		}
		r.Close()
		if err := <-done; err != relay.ErrClosed {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return ln.Addr().String()
}

// refusedAddr returns an address in h where nothing listens any more:
// connections to it are refused.
func refusedAddr(t *testing.T, h *lab.Host) string {
	t.Helper()
	ln := labtest.Listen(t, h, &net.ListenConfig{}, "tcp4", "127.0.0.1:0")
	ln.Close()
	return ln.Addr().String()
}

// pair starts a client relay (plain listener, TFO dialer) in client that
// forwards to a server relay (TFO listener, plain dialer) in server that
// forwards to backend, and returns the client relay's address and both
// relays. server's relay listens on serverAddr (host:0 picks a port).
func pair(t *testing.T, client, server *lab.Host, serverAddr, backend string, early relay.Early) (string, *relay.Relay, *relay.Relay) {
	t.Helper()
	sr := &relay.Relay{To: backend, Early: early, DialData: inHost(server, &fastopen.Dialer{Disable: true}), Logger: testLogger(t, "server relay")}
	saddr := serve(t, server, &fastopen.ListenConfig{}, serverAddr, sr)
	cr := &relay.Relay{To: saddr, DialData: inHost(client, &fastopen.Dialer{}), Logger: testLogger(t, "client relay")}
	caddr := serve(t, client, &net.ListenConfig{}, "127.0.0.1:0", cr)
	return caddr, cr, sr
}

// waitFor polls cond until it holds or 5 s pass: for counters that other
// goroutines update after the event the test observed.
func waitFor(cond func() bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// noLeaks records the goroutines and descriptors now and, when the test
// ends (after later cleanups closed the relays), checks they are back.
func noLeaks(t *testing.T) {
	t.Helper()
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	t.Cleanup(func() {
		// The runtime keeps splice(2)'s pipes in a pool until a GC
		// finalizes them: collect before counting descriptors.
		if err := waitFor(func() bool { runtime.GC(); return runtime.NumGoroutine() <= g0 && openFDs(t) <= f0 }); err != nil {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Errorf("leak: goroutines %d → %d, descriptors %d → %d\n%s", g0, runtime.NumGoroutine(), f0, openFDs(t), buf[:n])
		}
	})
}

// testLogger logs to t.Log, each line prefixed with name.
func testLogger(t *testing.T, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t, name}, nil))
}

type logWriter struct {
	t    *testing.T
	name string
}

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimSpace(string(b)))
	return len(b), nil
}
