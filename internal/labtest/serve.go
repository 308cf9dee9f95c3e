package labtest

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/lab"
)

// Listener is what Listen listens with: a *fastopen.ListenConfig, or a
// *net.ListenConfig for tests that set their socket options themselves
// (such as RawListenConfig) to test the lab, the kernel or the trace
// independently of package fastopen.
type Listener interface {
	Listen(ctx context.Context, network, address string) (net.Listener, error)
}

// Dialer is what Dial dials with: a *fastopen.Dialer, or a *net.Dialer
// (such as RawDialer) for tests independent of package fastopen.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Listen listens on network and addr inside h with lc (nil: a zero
// fastopen.ListenConfig), fails the test on error, and closes the
// listener when the test ends.
func Listen(t testing.TB, h *lab.Host, lc Listener, network, addr string) net.Listener {
	t.Helper()
	if lc == nil {
		lc = &fastopen.ListenConfig{}
	}
	return open(t, h, func() (net.Listener, error) { return lc.Listen(context.Background(), network, addr) })
}

// Serve accepts connections from ln until it is closed (Listen closes it
// when the test ends) and runs handle for each on its own goroutine,
// closing the connection when handle returns. It returns at once.
func Serve(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// Dial dials network and addr inside h with d (nil: a zero
// fastopen.Dialer), fails the test on error, and closes the connection
// when the test ends (closing it earlier is fine).
func Dial(t testing.TB, h *lab.Host, d Dialer, network, addr string) net.Conn {
	t.Helper()
	if d == nil {
		d = &fastopen.Dialer{}
	}
	return open(t, h, func() (net.Conn, error) { return d.DialContext(context.Background(), network, addr) })
}

// open runs fn inside h, fails the test on error, and closes what fn
// opened when the test ends.
func open[T io.Closer](t testing.TB, h *lab.Host, fn func() (T, error)) T {
	t.Helper()
	var v T
	Run(t, h, func() (err error) {
		v, err = fn()
		return err
	})
	t.Cleanup(func() { v.Close() })
	return v
}
