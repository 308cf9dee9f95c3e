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
