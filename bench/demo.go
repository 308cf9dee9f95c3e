package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/table"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/sysctl"
	"github.com/fastopen/fastopen/trace"
)

// DefaultDemoRTT is the demo's round-trip time unless configured: a
// realistic transcontinental path.
const DefaultDemoRTT = 100 * time.Millisecond

// DemoPort is the echo server's port, the walkthrough's.
const DemoPort = 8000

// DemoQueueLen is the echo server's TFO queue length, the walkthrough's.
const DemoQueueLen = 5

// DemoRequest is what the walkthrough's client sends.
const DemoRequest = "hello!"

// DemoConfig configures RunDemo.
type DemoConfig struct {
	// RTT is the lab link's round-trip time; zero means DefaultDemoRTT.
	RTT time.Duration
	// Loopback runs everything on loopback instead of a two-host lab: in
	// Host's namespace if set, else in the caller's. It needs no
	// privileges (except for the capture and for forgetting cookies) and
	// shows the mechanics, but loopback has no round trip to save.
	Loopback bool
	// Host is the namespace of a loopback run (nil: the caller's).
	Host *lab.Host
	// Curl is the curl program; empty means look it up in PATH. When curl
	// is missing its runs are left out with a note.
	Curl string
	// Timeout bounds each run; zero means 10s plus three RTTs.
	Timeout time.Duration
	// Progress receives one line per step ("building lab…"); nil discards.
	Progress io.Writer
}

// DemoResult is the outcome of RunDemo; its JSON form is what
// `fastopen demo --json` prints:
//
//	{"rtt_ms": 100, "loopback": false,
//	 "runs": [{"name": "first contact", "client": "fastopen", "tfo": true,
//	           "syn_data": false, "elapsed_ms": 201.2, "rtts": 2.01, ...}, ...],
//	 "saving_ms": 100.1, "saving_rtts": 1.0, ...}
type DemoResult struct {
	// RTTMS is the lab link's round-trip time in milliseconds (0 on
	// loopback).
	RTTMS float64 `json:"rtt_ms"`
	// Loopback is true when the demo ran on loopback, not in a lab.
	Loopback bool `json:"loopback"`
	// Server is the echo server's address.
	Server string `json:"server"`
	// Runs are the exchanges, in order.
	Runs []DemoRun `json:"runs"`
	// SavingMS is the plain run's time to reply minus the warm TFO run's;
	// SavingRTTs is the same in round trips (0 on loopback).
	SavingMS   float64 `json:"saving_ms"`
	SavingRTTs float64 `json:"saving_rtts"`
	// CurlSavingMS and CurlSavingRTTs compare curl without and with
	// --tcp-fastopen (absent when curl did not run).
	CurlSavingMS   float64 `json:"curl_saving_ms,omitempty"`
	CurlSavingRTTs float64 `json:"curl_saving_rtts,omitempty"`
	// LinkLatenessP99US is the 99th percentile of how late the lab's
	// forwarder delivered packets, in microseconds: the emulation's
	// timing error.
	LinkLatenessP99US float64 `json:"link_lateness_p99_us,omitempty"`
	// Notes explain anything that limits the result (no curl, no capture,
	// loopback).
	Notes []string `json:"notes,omitempty"`
}

// DemoRun is one exchange of the demo.
type DemoRun struct {
	// Name says what the run shows: "first contact", "warm", "plain TCP",
	// "curl", "curl --tcp-fastopen".
	Name string `json:"name"`
	// Client is "fastopen" (the echo client on this package's Dialer) or
	// "curl".
	Client string `json:"client"`
	// TFO reports whether TFO was asked for.
	TFO bool `json:"tfo"`
	// SYNData reports whether the request rode in the SYN and was
	// accepted: from the client's connection info for the fastopen client,
	// from the server's for curl.
	SYNData bool `json:"syn_data"`
	// SYNBytes is the number of request bytes the SYN carried (from the
	// capture, or the server's info).
	SYNBytes int `json:"syn_bytes"`
	// ElapsedMS is the time to reply: from the start of the dial to the
	// reply's first byte (curl: time_starttransfer).
	ElapsedMS float64 `json:"elapsed_ms"`
	// TotalMS runs until the reply was complete (curl: time_total).
	TotalMS float64 `json:"total_ms"`
	// RTTs is ElapsedMS in round trips (0 on loopback).
	RTTs float64 `json:"rtts"`
	// Reason is why the data did not ride in the SYN (a fastopen.Reason
	// code such as "no_cookie", "disabled"), empty when it did.
	Reason string `json:"reason,omitempty"`
	// Outcome is the capture's verdict on the handshake ("cookie-granted",
	// "accepted", "no-tfo", ...), empty without a capture.
	Outcome string `json:"outcome,omitempty"`
	// Handshake is the annotated packets of the connection up to the
	// first reply data, one line each.
	Handshake []string `json:"handshake,omitempty"`
	// ClientInfo is the client connection's TFO info (fastopen client).
	ClientInfo *fastopen.Info `json:"client_info,omitempty"`
	// ServerInfo is the server connection's TFO info.
	ServerInfo *fastopen.Info `json:"server_info,omitempty"`
	// Error is set when the run failed.
	Error string `json:"error,omitempty"`
}

type demoStep struct {
	name string
	curl bool
	tfo  bool
}

// RunDemo builds the lab (or uses loopback), starts the echo server with
// TFO, captures the handshakes, runs the walkthrough's client three ways
// and curl two ways, and reports each run. It always cleans up, also when
// ctx is cancelled. Without privileges it fails with an error wrapping
// ErrNeedRoot; an RTT outside 0 to MaxRTT is an error. When a run fails
// (DemoRun.Error) the others still run, and RunDemo returns the result
// together with an error naming the first failed run.
func RunDemo(ctx context.Context, cfg DemoConfig) (*DemoResult, error) {
	if cfg.RTT == 0 {
		cfg.RTT = DefaultDemoRTT
	}
	if cfg.RTT < 0 || cfg.RTT > MaxRTT {
		return nil, fmt.Errorf("demo RTT %v: want a round-trip time above 0 and up to %v (0 means %v)", cfg.RTT, MaxRTT, DefaultDemoRTT)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = exchangeTimeout(cfg.RTT)
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	say := func(format string, a ...any) { fmt.Fprintf(progress, format+"\n", a...) }
	res := &DemoResult{Loopback: cfg.Loopback}
	if !cfg.Loopback {
		res.RTTMS = msOf(cfg.RTT)
	}

	var e *env
	if cfg.Loopback {
		say("using loopback (no emulated link: the mechanics show, the saving does not)…")
		e = newLoopbackEnv(cfg.Host)
		res.Notes = append(res.Notes, "loopback run: there is no round trip to save, so TFO and plain TCP take about the same time; run without --loopback (as root) to see the saving")
		if n := loopbackModeNote(e); n != "" {
			res.Notes = append(res.Notes, n)
		}
	} else {
		say("building lab: two hosts joined by a link with RTT %v…", cfg.RTT)
		var err error
		if e, err = newLabEnv(lab.Config{RTT: cfg.RTT}); err != nil {
			return nil, err
		}
	}
	defer e.close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := netip.AddrPortFrom(e.serverIP, DemoPort)
	res.Server = addr.String()
	say("starting echo server on %s (TFO, queue %d)…", addr, DemoQueueLen)
	infos := make(chan fastopen.Info, 16)
	serveDone, err := startEcho(ctx, e, addr, echo.Server{Accepted: func(_ net.Conn, info fastopen.Info) {
		select {
		case infos <- info:
		default:
		}
	}}, DemoQueueLen)
	if err != nil {
		return nil, err
	}
	defer func() { cancel(); <-serveDone }()

	if !e.flushCookies() {
		res.Notes = append(res.Notes, "could not clear the cached TFO cookie (needs root / CAP_NET_ADMIN): the first contact may already be warm")
	}

	say("capturing handshakes on %s…", e.iface)
	var capture *trace.Capture
	err = e.client(func() error {
		var err error
		opts := trace.Options{Interface: e.iface, Port: DemoPort}
		if !cfg.Loopback {
			opts.RTT = cfg.RTT
		}
		capture, err = trace.Start(opts)
		return err
	})
	if err != nil {
		res.Notes = append(res.Notes, "no packet capture, so no annotated handshakes: "+err.Error())
		capture = nil
	}
	if capture != nil {
		defer capture.Stop()
	}

	steps := []demoStep{
		{name: "first contact", tfo: true},
		{name: "warm", tfo: true},
		{name: "plain TCP"},
	}
	curl := cfg.Curl
	if curl == "" {
		if p, err := exec.LookPath("curl"); err == nil {
			curl = p
		} else {
			res.Notes = append(res.Notes, "curl is not installed: its runs are left out (apt-get install curl)")
		}
	}
	if curl != "" {
		steps = append(steps, demoStep{name: "curl", curl: true}, demoStep{name: "curl --tcp-fastopen", curl: true, tfo: true})
	}

	flowOf := make([]int, len(steps)) // capture flow ID of each run, 0 if unknown
	seen := 0
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// A failed run's connection may have reached the server late: its
		// info must not be taken for this run's.
		for len(infos) > 0 {
			<-infos
		}
		say("run %d/%d: %s…", i+1, len(steps), describeStep(st))
		run := DemoRun{Name: st.name, Client: "fastopen", TFO: st.tfo}
		if st.curl {
			run.Client = "curl"
			t, err := runCurl(ctx, e.clientHost, curl, addr, st.tfo, 0, cfg.Timeout)
			if err != nil {
				run.Error = err.Error()
			}
			run.ElapsedMS, run.TotalMS = msOf(t.FirstByte), msOf(t.Total)
		} else {
			d := &fastopen.Dialer{Disable: !st.tfo}
			var r echo.Result
			err := e.client(func() error {
				sctx, scancel := context.WithTimeout(ctx, cfg.Timeout)
				defer scancel()
				var err error
				r, err = echo.Send(sctx, d, echo.Request{Network: "tcp", Address: addr.String(), Data: []byte(DemoRequest)})
				return err
			})
			if err != nil {
				run.Error = err.Error()
			} else if string(r.Reply) != DemoRequest {
				run.Error = fmt.Sprintf("reply %q, want %q", r.Reply, DemoRequest)
			}
			run.ElapsedMS, run.TotalMS = msOf(r.FirstByte), msOf(r.Elapsed)
			info := r.Info
			run.ClientInfo = &info
			run.SYNData = info.SYNData
			if !info.SYNData {
				run.Reason = info.Reason.Code()
			}
		}
		if run.Error == "" {
			select {
			case si := <-infos:
				run.ServerInfo = &si
				if st.curl {
					run.SYNData = si.SYNData
					if !si.SYNData {
						run.Reason = si.Reason.Code()
						if !st.tfo {
							run.Reason = fastopen.ReasonDisabled.Code()
						}
					}
				}
				run.SYNBytes = si.SYNBytes
			case <-time.After(time.Second):
				run.Error = "the server did not report the connection"
			}
		}
		if !cfg.Loopback && cfg.RTT > 0 {
			run.RTTs = run.ElapsedMS / msOf(cfg.RTT)
		}
		if capture != nil {
			deadline := time.Now().Add(500 * time.Millisecond)
			for time.Now().Before(deadline) {
				if fl := capture.Flows(); len(fl) > seen {
					seen = len(fl)
					flowOf[i] = fl[len(fl)-1].ID
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		res.Runs = append(res.Runs, run)
		say("        %s", runLine(run))
	}

	if capture != nil {
		flows, _ := capture.Stop()
		events := capture.Events()
		for i := range res.Runs {
			id := flowOf[i]
			if id == 0 {
				continue
			}
			for _, f := range flows {
				if f.ID == id {
					res.Runs[i].Outcome = string(f.Outcome)
					if f.SYNData > 0 {
						res.Runs[i].SYNBytes = f.SYNData
					}
				}
			}
			res.Runs[i].Handshake = handshake(events, id)
		}
	}
	if p99, _ := e.lateness(); p99 > 0 {
		res.LinkLatenessP99US = float64(p99) / float64(time.Microsecond)
	}
	byName := map[string]DemoRun{}
	for _, r := range res.Runs {
		byName[r.Name] = r
	}
	rtt := msOf(cfg.RTT)
	if w, p := byName["warm"], byName["plain TCP"]; w.Error == "" && p.Error == "" {
		res.SavingMS = p.ElapsedMS - w.ElapsedMS
		if !cfg.Loopback {
			res.SavingRTTs = res.SavingMS / rtt
		}
	}
	if w, p := byName["curl --tcp-fastopen"], byName["curl"]; curl != "" && w.Error == "" && p.Error == "" {
		res.CurlSavingMS = p.ElapsedMS - w.ElapsedMS
		if !cfg.Loopback {
			res.CurlSavingRTTs = res.CurlSavingMS / rtt
		}
	}
	say("cleaning up…")
	for _, r := range res.Runs {
		if r.Error != "" {
			return res, fmt.Errorf("run %q: %s", r.Name, r.Error)
		}
	}
	return res, nil
}

// loopbackModeNote says, for a loopback run, when the namespace's
// net.ipv4.tcp_fastopen lacks the client or the server bit, so that no
// data can ride in a SYN; it is empty otherwise.
func loopbackModeNote(e *env) string {
	var note string
	e.client(func() error {
		if m, err := sysctl.FastOpenMode(); err == nil && (!m.Client() || !m.Server()) {
			note = fmt.Sprintf("net.ipv4.tcp_fastopen is %d here (%v): TFO needs both the client (1) and server (2) bits on one machine; set it to 3 (sudo sysctl -w net.ipv4.tcp_fastopen=3, or `fastopen enable`) to see data in the SYN", int(m), m)
		}
		return nil
	})
	return note
}

// startEcho listens with TFO (queue length queue) in the server's
// namespace and serves s until ctx ends; the channel closes when Serve has
// returned.
func startEcho(ctx context.Context, e *env, addr netip.AddrPort, s echo.Server, queue int) (<-chan struct{}, error) {
	var ln net.Listener
	err := e.server(func() error {
		lc := fastopen.ListenConfig{QueueLen: queue}
		var err error
		ln, err = lc.Listen(ctx, "tcp", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("echo server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ctx, ln)
	}()
	return done, nil
}

func describeStep(st demoStep) string {
	switch {
	case st.curl:
		return st.name
	case st.name == "first contact":
		return "first contact (TFO, no cookie yet: the SYN asks for one)"
	case st.name == "warm":
		return "warm (TFO with the cookie: the request rides in the SYN)"
	}
	return "plain TCP (no TFO: handshake first, then the request)"
}

// runLine summarises a run in one line for progress output.
func runLine(r DemoRun) string {
	if r.Error != "" {
		return "failed: " + r.Error
	}
	s := fmt.Sprintf("reply after %.1f ms", r.ElapsedMS)
	if r.RTTs > 0 {
		s += fmt.Sprintf(" (%.2f RTT)", r.RTTs)
	}
	if r.SYNData {
		s += ", data in the SYN"
	} else {
		s += ", data not in the SYN (" + r.Reason + ")"
	}
	return s
}

// handshake renders flow id's packets up to (and including) the first
// data from the server.
func handshake(events []trace.Event, id int) []string {
	var out []string
	for _, ev := range events {
		if ev.Flow != id {
			continue
		}
		out = append(out, fmt.Sprintf("%10s  %s  %s", fmt.Sprintf("+%.1f ms", msOf(ev.Since)), ev.Dir, ev.Note))
		if ev.Dir == trace.ToClient && ev.PayloadLen > 0 {
			break
		}
	}
	return out
}

// WriteDemo writes a demo result for people: each run's annotated
// handshake, then the closing table and the saving.
func WriteDemo(w io.Writer, res *DemoResult) {
	for i, r := range res.Runs {
		fmt.Fprintf(w, "\n%d. %s (%s, TFO %s)\n", i+1, r.Name, r.Client, yesNo(r.TFO))
		for _, l := range r.Handshake {
			fmt.Fprintf(w, "   %s\n", l)
		}
		fmt.Fprintf(w, "   → %s\n", runLine(r))
	}
	fmt.Fprintln(w)
	rows := [][]string{{"run", "client", "TFO asked", "data in SYN", "time to reply", "RTTs", "why not in SYN"}}
	for _, r := range res.Runs {
		rtts := "-"
		if r.RTTs > 0 {
			rtts = fmt.Sprintf("%.2f", r.RTTs)
		}
		elapsed := fmt.Sprintf("%.1f ms", r.ElapsedMS)
		why := r.Reason
		if r.Error != "" {
			elapsed, why = "failed", r.Error
		}
		syn := yesNo(r.SYNData)
		if r.SYNData && r.SYNBytes > 0 {
			syn += fmt.Sprintf(" (%d B)", r.SYNBytes)
		}
		rows = append(rows, []string{r.Name, r.Client, yesNo(r.TFO), syn, elapsed, rtts, why})
	}
	table.Write(w, rows)
	fmt.Fprintln(w)
	if res.Loopback {
		fmt.Fprintf(w, "TFO saving (plain − warm): %.2f ms on loopback — no round trip to save here.\n", res.SavingMS)
	} else {
		fmt.Fprintf(w, "RTT %.0f ms. TFO saving (plain TCP − warm): %.1f ms = %.2f RTT.\n", res.RTTMS, res.SavingMS, res.SavingRTTs)
		if res.CurlSavingMS != 0 {
			fmt.Fprintf(w, "curl --tcp-fastopen saves %.1f ms = %.2f RTT over plain curl.\n", res.CurlSavingMS, res.CurlSavingRTTs)
		}
		if res.LinkLatenessP99US > 0 {
			fmt.Fprintf(w, "The emulated link delivered 99%% of packets within %.0f µs of their due time.\n", res.LinkLatenessP99US)
		}
		fmt.Fprintln(w, "The walkthrough timed one curl each over the internet: 270 ms with TFO, 690 ms without. Over a link")
		fmt.Fprintln(w, "whose RTT is known the saving is exactly one round trip: TFO answers in 1 RTT, plain TCP in 2.")
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
