package fastopen_test

import (
	"context"
	"net"
	"testing"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
)

// BenchmarkExchange measures one short request/response connection on a
// namespace's loopback (dial, 6-byte request, echo, close) with the lazy and
// the eager TFO dial and with a plain net.Dialer, to show what the library
// costs per connection in time and allocations. Every TFO iteration's data
// must ride in the SYN, or the benchmark fails. bench/compare runs the same
// exchange beside tfo-go.
//
//	go test -run '^$' -bench Exchange -benchmem .
func BenchmarkExchange(b *testing.B) {
	h, addr := labtest.EchoHost(b, "bench")
	msg := labtest.ExchangeMessage
	ctx := context.Background()
	var d fastopen.Dialer
	b.Run("tfo-lazy", func(b *testing.B) {
		labtest.BenchExchange(b, h, func() (net.Conn, error) {
			c, err := d.DialContext(ctx, "tcp4", addr)
			if err == nil {
				_, err = c.Write(msg)
			}
			return c, err
		}, true)
	})
	b.Run("tfo-eager", func(b *testing.B) {
		labtest.BenchExchange(b, h, func() (net.Conn, error) { return d.DialData(ctx, "tcp4", addr, msg) }, true)
	})
	var nd net.Dialer
	b.Run("plain-net.Dialer", func(b *testing.B) {
		labtest.BenchExchange(b, h, func() (net.Conn, error) {
			c, err := nd.DialContext(ctx, "tcp4", addr)
			if err == nil {
				_, err = c.Write(msg)
			}
			return c, err
		}, false)
	})
}
