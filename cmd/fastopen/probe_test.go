//go:build linux

package main

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// TestProbeCLI: `fastopen probe` exits 0 when TFO works and 3 when the
// server offers none, prints JSON with --json, and refuses bad input with
// status 2 before probing anything.
func TestProbeCLI(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "want exactly one target"},
		{[]string{"probe", "example.com"}, "want host:port"},
		{[]string{"probe", "example.com:0"}, "not a number from 1 to 65535"},
		{[]string{"probe", "bad host:80"}, "not a valid host name"},
		{[]string{"probe", "example.com:80", "--as", "smtp"}, `unknown first flight "smtp"`},
		{[]string{"probe", "example.com:80", "--count", "0"}, "--count 0: want 1 to 20"},
		{[]string{"probe", "example.com:80", "--timeout", "2h"}, "at most 1m0s"},
		{[]string{"probe", "example.com:80", "--serve", "127.0.0.1:0"}, "--serve takes no target"},
		{[]string{"probe", "--serve", "127.0.0.1:0", "--max-concurrent", "0"}, "want 1-64"},
		{[]string{"probe", "--serve", "127.0.0.1:0", "--teach"}, "not --serve"},
		{[]string{"probe", "example.com:80", "--teach", "--state", "none"}, "give one with --state FILE"},
		{[]string{"probe", "example.com:80", "--max-concurrent", "1000"}, "are for --serve"},
		{[]string{"probe", "example.com:80", "--max-time", "1h"}, "are for --serve"},
	} {
		_, stderr, code := runCLI(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("fastopen %q: status %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}

	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond})
	srv := l.ServerAddr(false)
	for port, lc := range map[uint16]*fastopen.ListenConfig{8000: {}, 8001: {Disable: true}} {
		ln := labtest.Listen(t, l.Server, lc, "tcp", netip.AddrPortFrom(srv, port).String())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func(ln net.Listener) { (&echo.Server{}).Serve(ctx, ln); close(done) }(ln)
		t.Cleanup(func() { cancel(); <-done })
	}
	for _, tc := range []struct {
		port    uint16
		code    int
		verdict string
	}{{8000, 0, "works"}, {8001, 3, "no_cookie"}} {
		target := netip.AddrPortFrom(srv, tc.port).String()
		code, out := exitCode(t, l.Client.Command(binary, "probe", target, "--json", "--count", "2").Output)
		var r struct {
			Overall   string `json:"overall"`
			Addresses []struct {
				Verdict string `json:"verdict"`
				Conns   []struct {
					SYNData bool `json:"syn_data"`
				} `json:"conns"`
			} `json:"addresses"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("probe %s --json: %v\n%s", target, err, out)
		}
		if code != tc.code || r.Overall != tc.verdict || len(r.Addresses) != 1 || r.Addresses[0].Verdict != tc.verdict {
			t.Errorf("probe %s: status %d, overall %q; want %d and %q\n%s", target, code, r.Overall, tc.code, tc.verdict, out)
		}
	}
	code, out := exitCode(t, l.Client.Command(binary, "probe", netip.AddrPortFrom(srv, 8000).String(), "--count", "1").CombinedOutput)
	if code != 0 || !strings.Contains(out, "ADDRESS") || !strings.Contains(out, "data in the SYN, acknowledged") {
		t.Errorf("probe table: status %d\n%s", code, out)
	}
}

// TestProbeTeach: at RTT 20 ms with a middlebox dropping SYNs with data,
// `fastopen probe` reports what the path memory does for the address
// beside its verdict, and with --teach records the verdict in the state
// file, so that a following `fastopen send` sharing that file leaves TFO
// out from its first connection (Info reason path_memory: no SYN
// retransmission timeout paid); without --teach the same send tries TFO.
//
// The kernel records the SYNs with data the probe lost (fo_syn_drops) and
// a Dialer reads that too, so after each probe the test clears the
// client's kernel record: only the state file carries what the probe
// learned.
func TestProbeTeach(t *testing.T) {
	labtest.NeedRoot(t)
	const synRTO = time.Second // TCP_TIMEOUT_INIT: what a lost SYN costs
	l := labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	addr, srv := countingServer(t, l)
	var taught string // the state file the probe taught
	for _, teach := range []bool{false, true} {
		name := map[bool]string{false: "observe", true: "teach"}[teach]
		state := filepath.Join(t.TempDir(), "paths.json")
		if teach {
			taught = state
		}
		flushClientMetrics(t, l)
		args := []string{"probe", addr, "--json", "--count", "2", "--timeout", "3s", "--state", state}
		if teach {
			args = append(args, "--teach")
		}
		code, out := exitCode(t, l.Client.Command(binary, args...).Output)
		var r struct {
			Overall   string `json:"overall"`
			Addresses []struct {
				Verdict string         `json:"verdict"`
				Path    *probePathView `json:"path_memory"`
			} `json:"addresses"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: probe --json: %v\n%s", name, err, out)
		}
		if code != 4 || r.Overall != "syn_data_dropped" || len(r.Addresses) != 1 || r.Addresses[0].Path == nil {
			t.Fatalf("%s: probe status %d, overall %q; want 4, syn_data_dropped and a path_memory object\n%s", name, code, r.Overall, out)
		}
		// Read after the probe, the memory holds the kernel's record of
		// the probe's own lost SYNs: it avoids TFO, as the verdict asks.
		pv := r.Addresses[0].Path
		if pv.State != "avoided" || pv.Cause != "syn_retransmitted" || pv.Match != "agrees" || pv.KernelSYNDrops < 1 || !pv.Until.After(time.Now()) {
			t.Errorf("%s: path_memory %+v; want avoided until later for syn_retransmitted, kernel_syn_drops ≥ 1, agrees", name, pv)
		}
		if taught := strings.Contains(pv.Taught, "recorded a failure, syn_retransmitted"); taught != teach {
			t.Errorf("%s: taught %q", name, pv.Taught)
		}
		_, err := os.Stat(state)
		if teach != (err == nil) {
			t.Errorf("%s: state file after the probe: %v", name, err)
		}

		flushClientMetrics(t, l)
		xs, err := runProcesses(l, addr, name, state, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := xs[0]
		if n := srv.count(x.id); n != 1 {
			t.Errorf("%s: the server got the request %d times, want once", name, n)
		}
		avoided := x.decision == "avoided" && x.reason == "path_memory" && !x.synData
		switch {
		case teach && (!avoided || x.elapsed >= synRTO):
			t.Errorf("%s: the first send after the probe: %s; want TFO avoided by the path memory, well under %v", name, describe(xs), synRTO)
		case !teach && (x.decision != "tfo" || x.reason == "path_memory"):
			t.Errorf("%s: the first send after the probe: %s; want TFO tried (the probe taught nothing)", name, describe(xs))
		}
		t.Logf("%s: probe path memory %s/%s, taught %q; then send:%s", name, pv.State, pv.Match, pv.Taught, describe(xs))
	}

	// The path heals. The probe finds TFO works while the state file it
	// taught still avoids it, and says what to do; with --teach it clears
	// the failure, and the next send carries its data in the SYN again.
	if err := l.SetFaultActive(lab.DropSYNData().Label(), false); err != nil {
		t.Fatal(err)
	}
	host, _, _ := strings.Cut(addr, ":")
	code, out := exitCode(t, l.Client.Command(binary, "probe", addr, "--count", "1", "--state", taught).Output)
	for _, want := range []string{"avoided (disagrees)", "disagreement: the probe found that TFO works, yet the Dialer avoids it", "`fastopen cookies forget " + host + "`"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("healed: probe status %d, want 0 and %q in\n%s", code, want, out)
		}
	}
	code, out = exitCode(t, l.Client.Command(binary, "probe", addr, "--count", "1", "--state", taught, "--teach").Output)
	if code != 0 || !strings.Contains(out, "taught: recorded a success (earlier failures cleared)") {
		t.Errorf("healed, --teach: probe status %d\n%s", code, out)
	}
	xs, err := runProcesses(l, addr, "healed", taught, 1)
	if err != nil {
		t.Fatal(err)
	}
	if x := xs[0]; x.decision != "tfo" || !x.synData || srv.count(x.id) != 1 {
		t.Errorf("healed: the first send after the probe taught success:%s; want data in the SYN (TCP_INFO), delivered once (server count %d)", describe(xs), srv.count(x.id))
	}
}

// probePathView is the path_memory object of `fastopen probe --json`.
type probePathView struct {
	State          string    `json:"state"`
	Until          time.Time `json:"until"`
	Cause          string    `json:"cause"`
	Match          string    `json:"match"`
	KernelSYNDrops int       `json:"kernel_syn_drops"`
	Taught         string    `json:"taught"`
}
