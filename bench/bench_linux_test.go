package bench

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
)

// benchPoint is a point as read back from the JSON output.
type benchPoint struct {
	RTTMS        float64 `json:"rtt_ms"`
	Size         int     `json:"size"`
	Loss         float64 `json:"loss"`
	Client       string  `json:"client"`
	Server       string  `json:"server"`
	TFO          bool    `json:"tfo"`
	Runs         int     `json:"runs"`
	MedianMS     float64 `json:"median_ms"`
	P10MS        float64 `json:"p10_ms"`
	P90MS        float64 `json:"p90_ms"`
	SYNDataRatio float64 `json:"syn_data_ratio"`
	SavingRTTs   float64 `json:"saving_rtts"`
}

func runJSON(t *testing.T, cfg Config) (*Result, []benchPoint) {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Points []benchPoint `json:"points"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return res, doc.Points
}

// checkPhysics: a request in the SYN is answered after one round trip,
// without TFO after two; TFO points had their data in the SYN every time.
func checkPhysics(t *testing.T, p benchPoint, runs int) {
	t.Helper()
	if p.Runs != runs {
		t.Errorf("%s tfo=%v: %d runs, want %d", p.Client, p.TFO, p.Runs, runs)
	}
	if p.TFO {
		if p.MedianMS < 0.9*p.RTTMS || p.MedianMS > 1.5*p.RTTMS {
			t.Errorf("%s with TFO: median %.2f ms at RTT %.0f ms, want about 1 RTT (< 1.5 RTT)", p.Client, p.MedianMS, p.RTTMS)
		}
		if p.SYNDataRatio != 1 {
			t.Errorf("%s with TFO: syn_data_ratio %v, want 1 (every warm run with data in the SYN)", p.Client, p.SYNDataRatio)
		}
		if p.SavingRTTs < 0.5 {
			t.Errorf("%s with TFO: saving %.2f RTT, want about 1", p.Client, p.SavingRTTs)
		}
	} else {
		if p.MedianMS < 1.8*p.RTTMS || p.MedianMS > 2.6*p.RTTMS {
			t.Errorf("%s without TFO: median %.2f ms at RTT %.0f ms, want about 2 RTT (> 1.8 RTT)", p.Client, p.MedianMS, p.RTTMS)
		}
		if p.SYNDataRatio != 0 {
			t.Errorf("%s without TFO: syn_data_ratio %v, want 0", p.Client, p.SYNDataRatio)
		}
	}
	if p.P10MS > p.MedianMS || p.MedianMS > p.P90MS {
		t.Errorf("%s: p10 %.2f, median %.2f, p90 %.2f out of order", p.Client, p.P10MS, p.MedianMS, p.P90MS)
	}
}

// TestBench sweeps two RTTs with the Dialer clients and the echo server.
func TestBench(t *testing.T) {
	labtest.NeedRoot(t)
	const runs = 5
	_, pts := runJSON(t, Config{RTTs: []time.Duration{20 * time.Millisecond, 30 * time.Millisecond}, Runs: runs, Warmup: 1})
	if len(pts) != 6 {
		t.Fatalf("%d points, want 2 RTTs × 3 clients", len(pts))
	}
	for _, p := range pts {
		if p.Server != ServerEcho || p.Size != 6 || p.Loss != 0 {
			t.Errorf("point %+v: want echo server, size 6, no loss", p)
		}
		checkPhysics(t, p, runs)
	}
}
