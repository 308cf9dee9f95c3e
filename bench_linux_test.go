package fastopen_test

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
)

// BenchmarkExchange measures one short request/response connection on a
// namespace's loopback (dial, 6-byte request, echo, close) with the lazy and
// the eager TFO dial and with a plain net.Dialer, to show what the library
// costs per connection in time and allocations, and the lazy dial once
// more without the path memory. Every TFO iteration's data must ride in
// the SYN, or the benchmark fails. bench/compare runs the same exchange
// beside tfo-go.
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
	// The same lazy dial without the path memory (as before it existed):
	// what consulting and teaching it costs per connection.
	noMem := fastopen.Dialer{IgnorePathMemory: true}
	b.Run("tfo-lazy-ignore-path-memory", func(b *testing.B) {
		labtest.BenchExchange(b, h, func() (net.Conn, error) {
			c, err := noMem.DialContext(ctx, "tcp4", addr)
			if err == nil {
				_, err = c.Write(msg)
			}
			return c, err
		}, true)
	})
	// Paired: each iteration runs one lazy exchange with the path memory
	// and one without, alternately, so that load from other processes
	// hits both alike; the medians and the median of the per-pair
	// differences are reported.
	b.Run("tfo-lazy-path-memory-paired", func(b *testing.B) {
		var with, without, diff []float64
		err := h.Run(func() error {
			buf := make([]byte, 64)
			one := func(d *fastopen.Dialer) (float64, error) {
				start := time.Now()
				c, err := d.DialContext(ctx, "tcp4", addr)
				if err != nil {
					return 0, err
				}
				defer c.Close()
				if _, err := c.Write(msg); err != nil {
					return 0, err
				}
				if _, err := io.ReadAtLeast(c, buf, len(msg)); err != nil {
					return 0, err
				}
				return float64(time.Since(start).Nanoseconds()), nil
			}
			for i := 0; b.Loop(); i++ {
				var w, wo float64
				var err error
				if i%2 == 0 { // alternate which goes first
					if w, err = one(&d); err == nil {
						wo, err = one(&noMem)
					}
				} else if wo, err = one(&noMem); err == nil {
					w, err = one(&d)
				}
				if err != nil {
					return err
				}
				with, without, diff = append(with, w), append(without, wo), append(diff, w-wo)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
		mw, mwo := med(with), med(without)
		b.ReportMetric(mw, "ns-with")
		b.ReportMetric(mwo, "ns-without")
		b.ReportMetric(med(diff), "ns-diff")
		b.ReportMetric(100*med(diff)/mwo, "%-overhead")
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
