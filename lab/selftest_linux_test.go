package lab_test

import (
	"context"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// TestSelfTestShort runs a small self-measurement: it must produce sane
// figures (the full-size one is `fastopen lab selftest`).
func TestSelfTestShort(t *testing.T) {
	labtest.NeedRoot(t)
	r, err := lab.SelfTest(context.Background(), lab.SelfTestConfig{
		RTT: 20 * time.Millisecond, Connects: 10, PPS: 2000,
		LoadTime: 300 * time.Millisecond, BulkTime: 300 * time.Millisecond,
	}, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.ConnectMedian < 20*time.Millisecond || r.ConnectMedian > 22*time.Millisecond {
		t.Errorf("connect median %v at RTT 20ms", r.ConnectMedian)
	}
	if r.Up.Samples < 300 || r.Down.Samples < 300 {
		t.Errorf("lateness measured on %d/%d packets, want ≥ 300 each", r.Up.Samples, r.Down.Samples)
	}
	if r.BulkMbps <= 0 || r.BulkMbps1500 <= 0 {
		t.Errorf("no bulk throughput: %v / %v", r.BulkMbps, r.BulkMbps1500)
	}
}

// BenchmarkSelfTest runs the full-size self-measurement (RTT 100ms, 50
// connects, 10,000 packets/s per direction, bulk TCP) and reports its
// figures: go test -run - -bench SelfTest -benchtime 1x ./lab
func BenchmarkSelfTest(b *testing.B) {
	labtest.NeedRoot(b)
	for b.Loop() {
		r, err := lab.SelfTest(context.Background(), lab.SelfTestConfig{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.ConnectMedian-r.RTT)/1e3, "connect-median-excess-µs")
		b.ReportMetric(float64(r.ConnectP99-r.RTT)/1e3, "connect-p99-excess-µs")
		b.ReportMetric(float64(max(r.Up.P99, r.Down.P99))/1e3, "lateness-p99-µs")
		b.ReportMetric(r.BulkMbps, "bulk-Mbit/s")
		b.ReportMetric(r.BulkMbps1500, "bulk-mtu1500-Mbit/s")
	}
}
