package bench

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
)

// TestDemo runs the demo end to end at RTT 30 ms and checks its JSON
// against the physics: one round trip with data in the SYN, two without.
// The times are the best of up to demoAttempts demos (see bestOfDemos).
func TestDemo(t *testing.T) {
	labtest.NeedRoot(t)
	curl := labtest.NeedCommand(t, "curl")
	const rtt = 30 * time.Millisecond
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
	rtts := make([]float64, len(want))
	for i, w := range want {
		rtts[i] = w.rtts
	}
	res, best := bestOfDemos(t, DemoConfig{RTT: rtt, Curl: curl}, rtts, func(attempt int, res *DemoResult) {
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
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.RTTMS != 30 {
			t.Fatalf("rtt_ms = %v, want 30", doc.RTTMS)
		}
		if len(doc.Runs) != len(want) {
			t.Fatalf("%d runs, want %d: %s", len(doc.Runs), len(want), b)
		}
		for i, w := range want {
			r := doc.Runs[i]
			if r.Name != w.name || r.Client != w.client || r.TFO != w.tfo || r.SYNData != w.synData || r.Outcome != w.outcome {
				t.Fatalf("attempt %d: run %d = %+v, want name %q client %q tfo %v syn_data %v outcome %q", attempt, i+1, r, w.name, w.client, w.tfo, w.synData, w.outcome)
			}
			if len(r.Handshake) < 3 || !strings.Contains(r.Handshake[len(r.Handshake)-1], "first data from the server") {
				t.Fatalf("run %q handshake %q: want the packets up to the first reply data", r.Name, r.Handshake)
			}
		}
	})
	if saving := (best[2] - best[1]) / res.RTTMS; saving < 0.5 || saving > 1.5 {
		t.Errorf("saving %.2f RTT (best plain − best warm), want about 1 (a lost round trip gives 0)", saving)
	}
	var out strings.Builder
	WriteDemo(&out, res)
	for _, s := range []string{"SYN + TFO cookie request", "SYN-ACK acks the SYN data", "TFO saving (plain TCP − warm)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("demo output lacks %q:\n%s", s, out.String())
		}
	}
}

// demoAttempts bounds how many demos bestOfDemos runs (under 1.5 s each
// at RTT 30 ms).
const demoAttempts = 5

// bestOfDemos runs the demo with cfg up to demoAttempts times, checking
// each result with check (which fails the test on a wrong structure),
// until every run's best time to reply is within its round trips: rtts[i]
// for run i, 0 for a run not timed. Load on the machine only adds time,
// so the minimum is the physics, and a lost or extra round trip is still
// caught. It then checks the best times (checkRTTs) and returns the last
// result and the best times.
func bestOfDemos(t *testing.T, cfg DemoConfig, rtts []float64, check func(attempt int, res *DemoResult)) (*DemoResult, []float64) {
	t.Helper()
	best := make([]float64, len(rtts))
	var res *DemoResult
	for attempt := 1; attempt <= demoAttempts; attempt++ {
		var progress strings.Builder
		cfg.Progress = &progress
		var err error
		res, err = RunDemo(context.Background(), cfg)
		if err != nil {
			t.Fatalf("demo: %v\nprogress:\n%s", err, progress.String())
		}
		check(attempt, res)
		inRange := true
		for i, r := range res.Runs {
			if attempt == 1 || r.ElapsedMS < best[i] {
				best[i] = r.ElapsedMS
			}
			lo, hi := rttRange(res.RTTMS, rtts[i])
			inRange = inRange && (rtts[i] == 0 || best[i] >= lo && best[i] <= hi)
		}
		if inRange {
			break
		}
		t.Logf("attempt %d: best times to reply %.1f ms, not all within their round trips yet (a loaded machine); again", attempt, best)
	}
	for i, r := range res.Runs {
		if rtts[i] != 0 && !checkRTTs(t, r.Name, best[i], res.RTTMS, rtts[i]) {
			t.Logf("last attempt's handshake:\n%s", strings.Join(r.Handshake, "\n"))
		}
	}
	return res, best
}

// checkRTTs fails when a time to reply is not the expected number of
// round trips: tolerant of a loaded machine, but a lost or extra round
// trip is caught.
func checkRTTs(t *testing.T, what string, ms, rttMS, rtts float64) bool {
	t.Helper()
	lo, hi := rttRange(rttMS, rtts)
	if ms < lo || ms > hi {
		t.Errorf("%s: reply after %.1f ms, want %.0f RTT (%.1f–%.1f ms at RTT %.0f ms)", what, ms, rtts, lo, hi, rttMS)
		return false
	}
	return true
}

// rttRange is the range of times, in ms, that checkRTTs accepts for rtts
// round trips of rttMS: 0.2 RTT below (the link is not early) to 0.5 RTT
// above (slack for a loaded machine).
func rttRange(rttMS, rtts float64) (lo, hi float64) {
	return rtts*rttMS - 0.2*rttMS, rtts*rttMS + 0.5*rttMS
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

// TestDemoHTTPS runs the HTTPS demo at RTT 30 ms and checks it against
// TLS 1.3's physics: 3 round trips to the first byte over plain TCP and
// with Go's default ClientHello over TFO (only part of it fits in the
// SYN), 2 with fotls.FitSYN's, whose whole ClientHello the capture,
// the client's and the server's TCP_INFO see in the SYN. The times are
// the best of up to demoAttempts demos (see bestOfDemos), the Go client's
// own, to the response's first byte.
// curl's runs are checked for what rode in the SYN (capture and server
// TCP_INFO) but not timed: curl is a new process per run, and on a loaded
// 2-core machine its start-up work (loading OpenSSL and the CA file)
// lands between the round trips, tens of ms at a time.
func TestDemoHTTPS(t *testing.T) {
	labtest.NeedRoot(t)
	curl := labtest.NeedCommand(t, "curl")
	const rtt = 30 * time.Millisecond
	want := []struct {
		name, client, tls, outcome string
		tfo, synData               bool
		reason                     string
		rtts                       float64 // round trips to the first byte; 0: not timed
	}{
		{"first contact", "go", "default", "cookie-granted", true, false, "no_cookie", 3},
		{"warm, default ClientHello", "go", "default", "accepted", true, true, "too_big_for_syn", 3},
		{"warm, FitSYN ClientHello", "go", "fitsyn", "accepted", true, true, "", 2},
		{"plain TCP", "go", "default", "no-tfo", false, false, "disabled", 3},
		{"curl", "curl", "", "no-tfo", false, false, "disabled", 0},
		{"curl --tcp-fastopen", "curl", "", "accepted", true, true, "", 0},
	}
	rtts := make([]float64, len(want))
	for i, w := range want {
		rtts[i] = w.rtts
	}
	res, best := bestOfDemos(t, DemoConfig{RTT: rtt, HTTPS: true, Curl: curl}, rtts, func(attempt int, res *DemoResult) {
		if !res.HTTPS || res.RTTMS != 30 || len(res.Runs) != len(want) {
			t.Fatalf("result https %v rtt_ms %v with %d runs, want true, 30 and %d runs", res.HTTPS, res.RTTMS, len(res.Runs), len(want))
		}
		for i, w := range want {
			r := res.Runs[i]
			if r.Name != w.name || r.Client != w.client || r.TLS != w.tls || r.TFO != w.tfo || r.SYNData != w.synData || r.Reason != w.reason || r.Outcome != w.outcome {
				t.Fatalf("attempt %d: run %d = name %q client %q tls %q tfo %v syn_data %v reason %q outcome %q, want %+v\nhandshake:\n%s",
					attempt, i+1, r.Name, r.Client, r.TLS, r.TFO, r.SYNData, r.Reason, r.Outcome, w, strings.Join(r.Handshake, "\n"))
			}
		}
	})
	if saving := (best[3] - best[2]) / res.RTTMS; saving < 0.5 || saving > 1.5 {
		t.Errorf("FitSYN saving %.2f RTT (best plain − best warm FitSYN), want about 1", saving)
	}

	// What rode in the SYN, from three sources that must agree: the
	// client's sendmsg count (Info.SYNSentBytes), the capture's SYN
	// payload (SYNBytes after annotate) and the server's TCP_INFO.
	def, fit := res.Runs[1], res.Runs[2]
	for _, r := range []DemoRun{def, fit} {
		if r.ClientInfo == nil || r.ServerInfo == nil {
			t.Fatalf("run %q: client info %v, server info %v: want both", r.Name, r.ClientInfo, r.ServerInfo)
		}
		if r.SYNBytes != r.ClientInfo.SYNSentBytes || r.SYNBytes != r.ServerInfo.SYNBytes || !r.ServerInfo.SYNData {
			t.Errorf("run %q: capture saw %d B in the SYN, client sent %d, server received %d (syn_data %v): want the same, and accepted",
				r.Name, r.SYNBytes, r.ClientInfo.SYNSentBytes, r.ServerInfo.SYNBytes, r.ServerInfo.SYNData)
		}
	}
	if def.FirstFlightBytes <= def.SYNBytes || def.ClientInfo.FirstWriteFit {
		t.Errorf("default ClientHello: %d of %d B in the SYN, fit %v: want only part of it", def.SYNBytes, def.FirstFlightBytes, def.ClientInfo.FirstWriteFit)
	}
	if fit.FirstFlightBytes != fit.SYNBytes || !fit.ClientInfo.FirstWriteFit {
		t.Errorf("FitSYN ClientHello: %d of %d B in the SYN, fit %v: want all of it", fit.SYNBytes, fit.FirstFlightBytes, fit.ClientInfo.FirstWriteFit)
	}
	if res.Runs[5].SYNBytes < 100 {
		t.Errorf("curl --tcp-fastopen: %d B in the SYN, want its ClientHello", res.Runs[5].SYNBytes)
	}
	for _, c := range []struct {
		run  int
		want string
	}{
		{1, "only the first part of the TLS ClientHello fits in the SYN (too_big_for_syn)"},
		{2, "the whole TLS ClientHello in the SYN"},
		{5, "the whole TLS ClientHello in the SYN"},
	} {
		h := strings.Join(res.Runs[c.run].Handshake, "\n")
		if !strings.Contains(h, c.want) || !strings.Contains(h, "the answer to the request") {
			t.Errorf("run %q handshake lacks %q or the answer:\n%s", res.Runs[c.run].Name, c.want, h)
		}
	}
	var out strings.Builder
	WriteDemo(&out, res)
	for _, s := range []string{"first byte", "part (", "too_big_for_syn", "gives up the post-quantum key exchange", "2 RTT instead of 3"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("demo output lacks %q:\n%s", s, out.String())
		}
	}
}
