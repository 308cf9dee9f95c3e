package bench

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
)

// TestDemo runs the demo end to end at RTT 20 ms and checks its JSON
// against the physics: one round trip with data in the SYN, two without.
func TestDemo(t *testing.T) {
	labtest.NeedRoot(t)
	curl := labtest.NeedCommand(t, "curl")
	// 30 ms: each run is timed once, so the slack of half an RTT (15 ms)
	// must absorb a scheduling stall on a loaded 2-core machine, while a
	// lost or extra round trip (30 ms) is still caught.
	const rtt = 30 * time.Millisecond
	var progress strings.Builder
	res, err := RunDemo(context.Background(), DemoConfig{RTT: rtt, Curl: curl, Progress: &progress})
	if err != nil {
		t.Fatalf("demo: %v\nprogress:\n%s", err, progress.String())
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		RTTMS float64 `json:"rtt_ms"`
		Runs  []struct {
			Name      string   `json:"name"`
			Client    string   `json:"client"`
			TFO       bool     `json:"tfo"`
			SYNData   bool     `json:"syn_data"`
			ElapsedMS float64  `json:"elapsed_ms"`
			Handshake []string `json:"handshake"`
			Outcome   string   `json:"outcome"`
		} `json:"runs"`
		SavingRTTs float64 `json:"saving_rtts"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.RTTMS != 30 {
		t.Errorf("rtt_ms = %v, want 30", doc.RTTMS)
	}
	want := []struct {
		name, client, outcome string
		tfo, synData          bool
		rtts                  float64
	}{
		{"first contact", "fastopen", "cookie-granted", true, false, 2},
		{"warm", "fastopen", "accepted", true, true, 1},
		{"plain TCP", "fastopen", "no-tfo", false, false, 2},
		{"curl", "curl", "no-tfo", false, false, 2},
		{"curl --tcp-fastopen", "curl", "accepted", true, true, 1},
	}
	if len(doc.Runs) != len(want) {
		t.Fatalf("%d runs, want %d: %s", len(doc.Runs), len(want), b)
	}
	for i, w := range want {
		r := doc.Runs[i]
		if r.Name != w.name || r.Client != w.client || r.TFO != w.tfo || r.SYNData != w.synData || r.Outcome != w.outcome {
			t.Errorf("run %d = %+v, want name %q client %q tfo %v syn_data %v outcome %q", i+1, r, w.name, w.client, w.tfo, w.synData, w.outcome)
		}
		if !checkRTTs(t, r.Name, r.ElapsedMS, doc.RTTMS, w.rtts) {
			t.Logf("handshake:\n%s", strings.Join(r.Handshake, "\n"))
		}
		if len(r.Handshake) < 3 || !strings.Contains(r.Handshake[len(r.Handshake)-1], "first data from the server") {
			t.Errorf("run %q handshake %q: want the packets up to the first reply data", r.Name, r.Handshake)
		}
	}
	if doc.SavingRTTs < 0.5 || doc.SavingRTTs > 1.5 {
		t.Errorf("saving %.2f RTT, want about 1 (a lost round trip gives 0)", doc.SavingRTTs)
	}
	var out strings.Builder
	WriteDemo(&out, res)
	for _, s := range []string{"SYN + TFO cookie request", "SYN-ACK acks the SYN data", "TFO saving (plain TCP − warm)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("demo output lacks %q:\n%s", s, out.String())
		}
	}
}

// checkRTTs fails when a time to reply is not the expected number of
// round trips: tolerant of a loaded machine, but a lost or extra round
// trip is caught.
func checkRTTs(t *testing.T, what string, ms, rttMS, rtts float64) bool {
	t.Helper()
	lo, hi := rtts*rttMS-0.2*rttMS, rtts*rttMS+0.5*rttMS
	if rtts == 2 {
		lo = 1.8 * rttMS
	}
	if ms < lo || ms > hi {
		t.Errorf("%s: reply after %.1f ms, want %.0f RTT (%.1f–%.1f ms at RTT %.0f ms)", what, ms, rtts, lo, hi, rttMS)
		return false
	}
	return true
}

// TestDemoLoopback runs the loopback variant in a namespace of its own:
// the mechanics (cookie, then data in the SYN) without a lab.
func TestDemoLoopback(t *testing.T) {
	h := labtest.Host(t, "demo", 3)
	res, err := RunDemo(context.Background(), DemoConfig{Loopback: true, Host: h, Curl: labtest.NeedCommand(t, "curl")})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Loopback || res.RTTMS != 0 || len(res.Notes) == 0 {
		t.Errorf("loopback result %+v: want loopback, rtt 0 and a note about the missing saving", res)
	}
	syn := []bool{false, true, false, false, true}
	for i, r := range res.Runs {
		if r.SYNData != syn[i] || r.Outcome == "" {
			t.Errorf("run %q: syn_data %v outcome %q, want %v and a captured outcome", r.Name, r.SYNData, r.Outcome, syn[i])
		}
	}
}
