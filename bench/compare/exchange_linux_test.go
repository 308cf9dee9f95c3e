package compare_test

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/database64128/tfo-go/v2"
	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
)

// TestMain lets this test binary serve as the echo server
// (labtest.EchoHost starts it as a child process).
func TestMain(m *testing.M) {
	labtest.ServeEchoChild()
	os.Exit(m.Run())
}

// BenchmarkExchange runs the same exchange with each client in one run.
func BenchmarkExchange(b *testing.B) {
	h, addr := labtest.EchoHost(b, "compare")
	msg := labtest.ExchangeMessage
	ctx := context.Background()
	// writeAfter dials and then writes msg: the lazy form, whose first
	// Write goes out in the SYN.
	writeAfter := func(dial func(ctx context.Context, network, address string) (net.Conn, error)) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			c, err := dial(ctx, "tcp4", addr)
			if err == nil {
				_, err = c.Write(msg)
			}
			return c, err
		}
	}
	var fd fastopen.Dialer
	var td tfo.Dialer
	var nd net.Dialer
	runs := []struct {
		name     string
		exchange func() (net.Conn, error)
		synData  bool
	}{
		{"fastopen-lazy", writeAfter(fd.DialContext), true},
		{"fastopen-DialData", func() (net.Conn, error) { return fd.DialData(ctx, "tcp4", addr, msg) }, true},
		// tfo-go sends data in the SYN only when given it at dial time.
		{"tfo-go", func() (net.Conn, error) { return td.DialContext(ctx, "tcp4", addr, msg) }, true},
		{"net.Dialer", writeAfter(nd.DialContext), false},
	}
	for _, r := range runs {
		b.Run(r.name, func(b *testing.B) { labtest.BenchExchange(b, h, r.exchange, r.synData) })
	}
}
