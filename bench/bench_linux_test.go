package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
	Partial      float64 `json:"partial_syn_ratio"`
	SYNSentMax   int     `json:"syn_sent_bytes_max"`
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

// TestBench sweeps two RTTs and two sizes with the Dialer clients and the
// echo server: a small request saves a round trip, one larger than the
// SYN can carry saves nothing; the charts are written.
func TestBench(t *testing.T) {
	labtest.NeedRoot(t)
	const runs = 4
	var ticks int
	res, pts := runJSON(t, Config{RTTs: []time.Duration{20 * time.Millisecond, 30 * time.Millisecond}, Sizes: []int{6, 4096}, Runs: runs, Warmup: 1,
		Progress: func(done, total int, what string) {
			ticks++
			if done != ticks || total != 2*2*3*(runs+1) || what == "" {
				t.Errorf("progress %d/%d %q after %d calls", done, total, what, ticks)
			}
		}})
	if len(pts) != 12 {
		t.Fatalf("%d points, want 2 RTTs × 2 sizes × 3 clients", len(pts))
	}
	for _, p := range pts {
		if p.Server != ServerEcho || p.Loss != 0 {
			t.Errorf("point %+v: want echo server, no loss", p)
		}
		if p.Size == 6 {
			checkPhysics(t, p, runs)
			continue
		}
		// 4 KiB: the SYN carries the first ~1420 bytes, the rest waits for
		// the SYN-ACK, so TFO and plain TCP both take two round trips.
		if p.MedianMS < 1.8*p.RTTMS || p.MedianMS > 2.6*p.RTTMS {
			t.Errorf("4 KiB %s tfo=%v: median %.2f ms at RTT %.0f, want about 2 RTT", p.Client, p.TFO, p.MedianMS, p.RTTMS)
		}
		if p.TFO && (p.SavingRTTs > 0.3 || p.SYNDataRatio != 1) {
			t.Errorf("4 KiB %s: saving %.2f RTT (want none), syn_data_ratio %v (want 1: the first part still rode in the SYN)", p.Client, p.SavingRTTs, p.SYNDataRatio)
		}
	}
	if res.SYNPayloadMax < 1000 || res.SYNPayloadMax > res.MSS {
		t.Errorf("syn_payload_max %d, want the SYN's payload limit (over 1000 bytes, at most the MSS %d)", res.SYNPayloadMax, res.MSS)
	}
	dir := t.TempDir()
	files, err := WriteCharts(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ResultFile, ChartLatencyVsRTT + ".svg", ChartLatencyVsRTT + ".png", ChartLatencyVsSize + ".svg", ChartLatencyVsSize + ".png"}
	if len(files) != len(want) {
		t.Fatalf("wrote %q, want %q", files, want)
	}
	for _, name := range want {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v, size %d: want a non-empty file", name, err, st.Size())
		}
	}
	var csv strings.Builder
	if err := WriteCSV(&csv, res); err != nil || strings.Count(csv.String(), "\n") != 13 {
		t.Errorf("CSV: %v, %d lines, want header + 12:\n%s", err, strings.Count(csv.String(), "\n"), csv.String())
	}
}

// TestBenchCurlNginx: curl and the Dialer against nginx with fastopen=N.
func TestBenchCurlNginx(t *testing.T) {
	labtest.NeedRoot(t)
	labtest.NeedCommand(t, "curl")
	labtest.NeedCommand(t, "nginx")
	const runs = 3
	_, pts := runJSON(t, Config{RTTs: []time.Duration{20 * time.Millisecond}, Clients: []string{ClientLazy, ClientPlain, ClientCurl}, Server: ServerNginx, Runs: runs, Warmup: 1})
	if len(pts) != 4 {
		t.Fatalf("%d points, want lazy, plain, curl with and without TFO", len(pts))
	}
	for _, p := range pts {
		if p.Server != ServerNginx {
			t.Errorf("point %+v: want server nginx", p)
		}
		checkPhysics(t, p, runs)
	}
}

// TestBenchHTTP: the Dialer and Go's HTTP client against the fohttp
// server: a GET in the SYN is answered in one round trip (the Guard does
// not hold safe requests), without TFO in two.
func TestBenchHTTP(t *testing.T) {
	labtest.NeedRoot(t)
	const runs = 3
	_, pts := runJSON(t, Config{RTTs: []time.Duration{20 * time.Millisecond}, Clients: []string{ClientLazy, ClientPlain, ClientHTTP}, Server: ServerHTTP, Runs: runs, Warmup: 1})
	if len(pts) != 4 {
		t.Fatalf("%d points, want lazy, plain, http with and without TFO", len(pts))
	}
	for _, p := range pts {
		checkPhysics(t, p, runs)
	}
}

// TestBenchHTTPS: Go's HTTP client over TLS against the fohttp server.
// With Go's default ClientHello the SYN carries 1420 B of it, every time
// (partial), and the reply takes 3 round trips as without TFO; with
// fotls.FitSYN's it rides whole and the reply takes 2, with a resumed
// session or a full handshake (the lower decile, as load only adds time).
func TestBenchHTTPS(t *testing.T) {
	labtest.NeedRoot(t)
	const runs = 3
	_, pts := runJSON(t, Config{RTTs: []time.Duration{20 * time.Millisecond}, Clients: []string{ClientHTTP, ClientHTTPFit, ClientHTTPFitFull}, Server: ServerHTTPS, Runs: runs, Warmup: 2})
	if len(pts) != 4 {
		t.Fatalf("%d points, want http with and without TFO, http-fitsyn, http-fitsyn-full", len(pts))
	}
	for _, p := range pts {
		rtts := p.P10MS / p.RTTMS
		switch {
		case p.Client == ClientHTTP && p.TFO:
			if p.SYNDataRatio != 1 || p.Partial != 1 || p.SYNSentMax != 1420 || rtts < 2.9 {
				t.Errorf("http with TFO: %+v, want 1420 B of every ClientHello in the SYN (partial) and about 3 RTT", p)
			}
		case p.Client == ClientHTTP:
			if p.SYNDataRatio != 0 || rtts < 2.9 {
				t.Errorf("http without TFO: %+v, want about 3 RTT", p)
			}
		case p.Client == ClientHTTPFit, p.Client == ClientHTTPFitFull:
			if p.SYNDataRatio != 1 || p.Partial != 0 || p.SYNSentMax == 0 || p.SYNSentMax > 1420 || rtts > 2.5 {
				t.Errorf("%s: %+v, want every ClientHello whole in the SYN and about 2 RTT", p.Client, p)
			}
		}
	}
}

// TestRate measures the connection rate briefly in a namespace of its own.
func TestRate(t *testing.T) {
	h := labtest.Host(t, "rate", 3)
	res, err := RunRate(context.Background(), RateConfig{Duration: 400 * time.Millisecond, Host: h})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 || !res.Results[0].TFO || res.Results[1].TFO {
		t.Fatalf("results %+v: want TFO then plain", res.Results)
	}
	for _, s := range res.Results {
		if s.Conns < 20 || s.Errors != 0 {
			t.Errorf("tfo=%v: %d connections, %d errors: want many and none failed", s.TFO, s.Conns, s.Errors)
		}
	}
	if res.Results[0].SYNDataRatio != 1 || res.Results[1].SYNDataRatio != 0 {
		t.Errorf("syn_data_ratio TFO %v plain %v, want 1 and 0", res.Results[0].SYNDataRatio, res.Results[1].SYNDataRatio)
	}
	if res.TFOGain <= 0 {
		t.Errorf("tfo_gain %v", res.TFOGain)
	}
}

// TestBenchLoopbackModeNote: on loopback in a namespace whose TFO is off,
// nothing rides in the SYN and the result says why, as the demo does; no
// lab MSS is claimed for loopback.
func TestBenchLoopbackModeNote(t *testing.T) {
	h := labtest.Host(t, "benchlo", 0)
	res, err := Run(context.Background(), Config{Loopback: true, Host: h, Runs: 2, Warmup: 1, Clients: []string{ClientLazy, ClientPlain}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Points) != 2 || res.Points[0].SYNDataRatio != 0 {
		t.Fatalf("points %+v: want lazy and plain, nothing in the SYN with TFO off", res.Points)
	}
	if res.MSS != 0 {
		t.Errorf("mss %d on loopback, want 0 (there is no lab link)", res.MSS)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "net.ipv4.tcp_fastopen is 0 here") {
		t.Errorf("notes %q: want one saying TFO is off in this namespace", res.Notes)
	}
}
