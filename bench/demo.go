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
	// HTTPS replays the demo over HTTPS instead of the echo protocol: a
	// TLS server (package fohttp, a self-signed certificate) on a TFO
	// listener, and Go's http.Client on a fohttp.Transport with Go's
	// default ClientHello and with fotls.FitSYN's (see DemoHTTPSPort).
	HTTPS bool
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
	// Server is the echo server's address (the HTTPS server's with HTTPS).
	Server string `json:"server"`
	// HTTPS is true when the demo ran over HTTPS.
	HTTPS bool `json:"https,omitempty"`
	// Runs are the exchanges, in order.
	Runs []DemoRun `json:"runs"`
	// SavingMS is the plain run's time to reply minus the warm TFO run's;
	// SavingRTTs is the same in round trips (0 on loopback).
	SavingMS   float64 `json:"saving_ms"`
	SavingRTTs float64 `json:"saving_rtts"`
	// FitSavingMS and FitSavingRTTs are, over HTTPS, the plain run's time
	// to first byte minus the warm run's with fotls.FitSYN's ClientHello.
	FitSavingMS   float64 `json:"fit_saving_ms,omitempty"`
	FitSavingRTTs float64 `json:"fit_saving_rtts,omitempty"`
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
	// Client is "fastopen" (the echo client on this package's Dialer),
	// "go" (over HTTPS: Go's http.Client on a fohttp.Transport) or "curl".
	Client string `json:"client"`
	// TLS is, over HTTPS, the Go client's ClientHello: "default" (Go's,
	// with the post-quantum key share) or "fitsyn" (fotls.FitSYN's).
	TLS string `json:"tls,omitempty"`
	// TFO reports whether TFO was asked for.
	TFO bool `json:"tfo"`
	// SYNData reports whether the request rode in the SYN and was
	// accepted: from the client's connection info for the fastopen client,
	// from the server's for curl.
	SYNData bool `json:"syn_data"`
	// SYNBytes is the number of request bytes the SYN carried (from the
	// capture, or the server's info).
	SYNBytes int `json:"syn_bytes"`
	// FirstFlightBytes is, for the Go clients, the length of the
	// connection's first write (the request, or the TLS ClientHello),
	// of which SYNBytes rode in the SYN.
	FirstFlightBytes int `json:"first_flight_bytes,omitempty"`
	// ElapsedMS is the time to reply: from the start of the dial to the
	// reply's first byte (curl: time_starttransfer).
	ElapsedMS float64 `json:"elapsed_ms"`
	// TotalMS runs until the reply was complete (curl: time_total).
	TotalMS float64 `json:"total_ms"`
	// WireMS is the time from the SYN to the reply's first byte as the
	// capture saw them on the client's side (over HTTPS: the first byte
	// of the server's answer to the request, after the TLS handshake):
	// the round trips without the client's own work before the SYN.
	// Zero without a capture.
	WireMS float64 `json:"wire_ms,omitempty"`
	// RTTs is ElapsedMS in round trips (0 on loopback).
	RTTs float64 `json:"rtts"`
	// Reason is why the data did not ride in the SYN (a fastopen.Reason
	// code such as "no_cookie", "disabled"), or why only part of it did
	// ("too_big_for_syn"); empty when all of it did.
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

// demoRunID identifies a run of the demo independently of its display
// name.
type demoRunID int

const (
	demoFirstContact demoRunID = iota
	demoWarm
	demoPlain
	demoCurl
	demoCurlTFO
	demoWarmFit // HTTPS: warm, with fotls.FitSYN's ClientHello
)

// demoStep defines one run of the demo.
type demoStep struct {
	id demoRunID
	// name is the run's DemoRun.Name; about is its progress line.
	name, about string
	// curl runs curl instead of the echo client; tfo asks for TFO.
	curl, tfo bool
	// fit uses fotls.FitSYN's ClientHello (HTTPS).
	fit bool
}

// demoSteps are the runs on this package's Dialer, in order.
var demoSteps = []demoStep{
	{id: demoFirstContact, name: "first contact", about: "first contact (TFO, no cookie yet: the SYN asks for one)", tfo: true},
	{id: demoWarm, name: "warm", about: "warm (TFO with the cookie: the request rides in the SYN)", tfo: true},
	{id: demoPlain, name: "plain TCP", about: "plain TCP (no TFO: handshake first, then the request)"},
}

// demoCurlSteps are the runs with curl, after demoSteps when curl is
// installed.
var demoCurlSteps = []demoStep{
	{id: demoCurl, name: "curl", about: "curl", curl: true},
	{id: demoCurlTFO, name: "curl --tcp-fastopen", about: "curl --tcp-fastopen", curl: true, tfo: true},
}

// demo is the state of one RunDemo.
type demo struct {
	cfg     DemoConfig
	say     func(format string, a ...any)
	res     *DemoResult
	env     *env
	addr    netip.AddrPort
	infos   chan fastopen.Info // server-side info of each accepted connection
	capture *trace.Capture     // nil without a capture
	curl    string             // curl's path, empty when it is missing
	https   *demoHTTPS         // the HTTPS server, nil for the echo demo
	steps   []demoStep
	ids     []demoRunID // ids[i] is the step of res.Runs[i]
	flowOf  []int       // capture flow ID of each run, 0 if unknown
	seen    int         // flows of the capture already matched to runs
}

// RunDemo builds the lab (or uses loopback), starts the echo server with
// TFO, captures the handshakes, runs the walkthrough's client three ways
// and curl two ways, and reports each run. With DemoConfig.HTTPS it does
// the same over HTTPS (see DemoHTTPSPort for the runs). It always cleans up, also when
// ctx is cancelled. Without privileges it fails with an error wrapping
// ErrNeedRoot; an RTT outside 0 to MaxRTT is an error. When a run fails
// (DemoRun.Error) the others still run, and RunDemo returns the result
// together with an error naming the first failed run.
func RunDemo(ctx context.Context, cfg DemoConfig) (*DemoResult, error) {
	d, err := newDemo(cfg)
	if err != nil {
		return nil, err
	}
	if err := d.openEnv(); err != nil {
		return nil, err
	}
	defer d.env.close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveDone, err := d.startServer(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { cancel(); <-serveDone }()
	d.forgetCookies()
	d.startCapture()
	if d.capture != nil {
		defer d.capture.Stop()
	}
	d.plan()
	for i, st := range d.steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d.runStep(ctx, i, st)
	}
	d.annotate()
	d.summarise()
	d.say("cleaning up…")
	return d.res, d.firstError()
}

// newDemo checks cfg and fills in its defaults.
func newDemo(cfg DemoConfig) (*demo, error) {
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
	d := &demo{
		cfg:   cfg,
		say:   func(format string, a ...any) { fmt.Fprintf(progress, format+"\n", a...) },
		res:   &DemoResult{Loopback: cfg.Loopback, HTTPS: cfg.HTTPS},
		infos: make(chan fastopen.Info, 16),
	}
	if !cfg.Loopback {
		d.res.RTTMS = msOf(cfg.RTT)
	}
	return d, nil
}

// openEnv builds the lab, or takes the loopback of the configured
// namespace.
func (d *demo) openEnv() error {
	if d.cfg.Loopback {
		d.say("using loopback (no emulated link: the mechanics show, the saving does not)…")
		d.env = newLoopbackEnv(d.cfg.Host)
		d.res.Notes = append(d.res.Notes, "loopback run: there is no round trip to save, so TFO and plain TCP take about the same time; run without --loopback (as root) to see the saving")
		if n := loopbackModeNote(d.env); n != "" {
			d.res.Notes = append(d.res.Notes, n)
		}
		return nil
	}
	d.say("building lab: two hosts joined by a link with RTT %v…", d.cfg.RTT)
	var err error
	d.env, err = newLabEnv(lab.Config{RTT: d.cfg.RTT})
	return err
}

// startServer starts the echo server, which reports every accepted
// connection's info on d.infos; the channel closes when it has stopped
// (after ctx ends).
func (d *demo) startServer(ctx context.Context) (<-chan struct{}, error) {
	if d.cfg.HTTPS {
		return d.startHTTPS(ctx)
	}
	d.addr = netip.AddrPortFrom(d.env.serverIP, DemoPort)
	d.res.Server = d.addr.String()
	d.say("starting echo server on %s (TFO, queue %d)…", d.addr, DemoQueueLen)
	return startEcho(ctx, d.env, d.addr, echo.Server{Accepted: func(_ net.Conn, info fastopen.Info) {
		select {
		case d.infos <- info:
		default:
		}
	}}, DemoQueueLen)
}

// forgetCookies makes the first contact cold, or notes that it may not be.
func (d *demo) forgetCookies() {
	if !d.env.flushCookies() {
		d.res.Notes = append(d.res.Notes, "could not clear the cached TFO cookie (needs root / CAP_NET_ADMIN): the first contact may already be warm")
	}
}

// startCapture starts capturing the handshakes on the client's side; without
// a capture the demo goes on and notes why.
func (d *demo) startCapture() {
	d.say("capturing handshakes on %s…", d.env.iface)
	err := d.env.client(func() error {
		var err error
		opts := trace.Options{Interface: d.env.iface, Port: int(d.addr.Port())}
		if !d.cfg.Loopback {
			opts.RTT = d.cfg.RTT
		}
		d.capture, err = trace.Start(opts)
		return err
	})
	if err != nil {
		d.res.Notes = append(d.res.Notes, "no packet capture, so no annotated handshakes: "+err.Error())
		d.capture = nil
	}
}

// plan lists the runs: the echo client's, then curl's when it is there.
func (d *demo) plan() {
	d.steps = append([]demoStep(nil), demoSteps...)
	if d.cfg.HTTPS {
		d.steps = append([]demoStep(nil), demoHTTPSSteps...)
	}
	d.curl = d.cfg.Curl
	if d.curl == "" {
		if p, err := exec.LookPath("curl"); err == nil {
			d.curl = p
		} else {
			d.res.Notes = append(d.res.Notes, "curl is not installed: its runs are left out (apt-get install curl)")
		}
	}
	switch {
	case d.curl != "" && d.cfg.HTTPS:
		d.steps = append(d.steps, demoHTTPSCurlSteps...)
	case d.curl != "":
		d.steps = append(d.steps, demoCurlSteps...)
	}
	d.flowOf = make([]int, len(d.steps))
}

// runStep runs step i and appends its result.
func (d *demo) runStep(ctx context.Context, i int, st demoStep) {
	// A failed run's connection may have reached the server late: its
	// info must not be taken for this run's.
	for len(d.infos) > 0 {
		<-d.infos
	}
	d.say("run %d/%d: %s…", i+1, len(d.steps), st.about)
	run := DemoRun{Name: st.name, Client: "fastopen", TFO: st.tfo}
	switch {
	case st.curl:
		d.exchangeCurl(ctx, st, &run)
	case d.cfg.HTTPS:
		d.exchangeHTTPS(ctx, st, &run)
	default:
		d.exchangeEcho(ctx, st, &run)
	}
	if run.Error == "" {
		d.takeServerInfo(st, &run)
	}
	if !d.cfg.Loopback && d.cfg.RTT > 0 {
		run.RTTs = run.ElapsedMS / msOf(d.cfg.RTT)
	}
	d.matchFlow(i)
	d.res.Runs = append(d.res.Runs, run)
	d.ids = append(d.ids, st.id)
	d.say("        %s", runLine(run))
}

// exchangeCurl sends the request with curl.
func (d *demo) exchangeCurl(ctx context.Context, st demoStep, run *DemoRun) {
	run.Client = "curl"
	var t curlTiming
	var err error
	if d.cfg.HTTPS {
		t, err = runCurlArgs(ctx, d.env.clientHost, d.curl, d.https.url, d.https.curlArgs(st.tfo, d.cfg.Timeout))
	} else {
		t, err = runCurl(ctx, d.env.clientHost, d.curl, d.addr, st.tfo, 0, d.cfg.Timeout)
	}
	if err != nil {
		run.Error = err.Error()
	}
	run.ElapsedMS, run.TotalMS = msOf(t.FirstByte), msOf(t.Total)
}

// exchangeEcho sends the request with the echo client on this package's
// Dialer and takes the client's TFO info.
func (d *demo) exchangeEcho(ctx context.Context, st demoStep, run *DemoRun) {
	dialer := &fastopen.Dialer{Disable: !st.tfo}
	var r echo.Result
	err := d.env.client(func() error {
		sctx, scancel := context.WithTimeout(ctx, d.cfg.Timeout)
		defer scancel()
		var err error
		r, err = echo.Send(sctx, dialer, echo.Request{Network: "tcp", Address: d.addr.String(), Data: []byte(DemoRequest)})
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

// takeServerInfo takes the server's info on the run's connection; for
// curl, whose side cannot be asked, it also tells whether data rode in the
// SYN.
func (d *demo) takeServerInfo(st demoStep, run *DemoRun) {
	select {
	case si := <-d.infos:
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

// matchFlow remembers the capture's newest flow as run i's, waiting
// briefly for the capture to see it.
func (d *demo) matchFlow(i int) {
	if d.capture == nil {
		return
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if fl := d.capture.Flows(); len(fl) > d.seen {
			d.seen = len(fl)
			d.flowOf[i] = fl[len(fl)-1].ID
			break
		}
		time.Sleep(time.Millisecond)
	}
}

// annotate stops the capture and gives each run its flow's outcome, SYN
// payload and handshake.
func (d *demo) annotate() {
	if d.capture == nil {
		return
	}
	flows, _ := d.capture.Stop()
	events := d.capture.Events()
	for i := range d.res.Runs {
		id := d.flowOf[i]
		if id == 0 {
			continue
		}
		for _, f := range flows {
			if f.ID == id {
				d.res.Runs[i].Outcome = string(f.Outcome)
				if f.SYNData > 0 {
					d.res.Runs[i].SYNBytes = f.SYNData
				}
			}
		}
		if d.cfg.HTTPS {
			d.res.Runs[i].Handshake, d.res.Runs[i].WireMS = httpsHandshake(events, id, d.rttOrZero())
		} else {
			d.res.Runs[i].Handshake, d.res.Runs[i].WireMS = handshake(events, id)
		}
	}
}

// summarise adds the link's lateness and the savings: plain TCP minus
// warm, and curl minus curl --tcp-fastopen.
func (d *demo) summarise() {
	if p99 := d.env.lateness(); p99 > 0 {
		d.res.LinkLatenessP99US = float64(p99) / float64(time.Microsecond)
	}
	rtt := msOf(d.cfg.RTT)
	if ms, ok := d.saving(demoPlain, demoWarm); ok {
		d.res.SavingMS = ms
		if !d.cfg.Loopback {
			d.res.SavingRTTs = ms / rtt
		}
	}
	if ms, ok := d.saving(demoPlain, demoWarmFit); d.cfg.HTTPS && ok {
		d.res.FitSavingMS = ms
		if !d.cfg.Loopback {
			d.res.FitSavingRTTs = ms / rtt
		}
	}
	if ms, ok := d.saving(demoCurl, demoCurlTFO); d.curl != "" && ok {
		d.res.CurlSavingMS = ms
		if !d.cfg.Loopback {
			d.res.CurlSavingRTTs = ms / rtt
		}
	}
}

// rttOrZero is the link's RTT, zero on loopback.
func (d *demo) rttOrZero() time.Duration {
	if d.cfg.Loopback {
		return 0
	}
	return d.cfg.RTT
}

// saving returns run slow's time to reply minus run fast's; ok is false
// when either failed. A run that did not take place counts as a success
// that took no time.
func (d *demo) saving(slow, fast demoRunID) (ms float64, ok bool) {
	s, f := d.run(slow), d.run(fast)
	return s.ElapsedMS - f.ElapsedMS, s.Error == "" && f.Error == ""
}

// run returns the result of the run with id, or the zero DemoRun when it
// did not take place.
func (d *demo) run(id demoRunID) DemoRun {
	for i, rid := range d.ids {
		if rid == id {
			return d.res.Runs[i]
		}
	}
	return DemoRun{}
}

// firstError names the first failed run.
func (d *demo) firstError() error {
	for _, r := range d.res.Runs {
		if r.Error != "" {
			return fmt.Errorf("run %q: %s", r.Name, r.Error)
		}
	}
	return nil
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

// runLine summarises a run in one line for progress output.
func runLine(r DemoRun) string {
	if r.Error != "" {
		return "failed: " + r.Error
	}
	s := fmt.Sprintf("reply after %.1f ms", r.ElapsedMS)
	if r.RTTs > 0 {
		s += fmt.Sprintf(" (%.2f RTT)", r.RTTs)
	}
	switch {
	case r.SYNData && r.Reason != "":
		s += fmt.Sprintf(", only %d of %d B in the SYN (%s)", r.SYNBytes, r.FirstFlightBytes, r.Reason)
	case r.SYNData:
		s += ", data in the SYN"
	default:
		s += ", data not in the SYN (" + r.Reason + ")"
	}
	return s
}

// handshake renders flow id's packets up to (and including) the first
// data from the server, and returns that data's time since the SYN in ms
// (0 when it was not captured).
func handshake(events []trace.Event, id int) (lines []string, replyMS float64) {
	for _, ev := range events {
		if ev.Flow != id {
			continue
		}
		lines = append(lines, fmt.Sprintf("%10s  %s  %s", fmt.Sprintf("+%.1f ms", msOf(ev.Since)), ev.Dir, ev.Note))
		if ev.Dir == trace.ToClient && ev.PayloadLen > 0 {
			return lines, msOf(ev.Since)
		}
	}
	return lines, 0
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
	if res.HTTPS {
		rows[0] = []string{"run", "client", "TLS ClientHello", "TFO asked", "data in SYN", "first byte", "RTTs", "why not (all) in SYN"}
	}
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
		if res.HTTPS {
			hello := map[string]string{"default": "Go default", "fitsyn": "fotls.FitSYN"}[r.TLS]
			if r.Client == "curl" {
				hello = "curl's"
			}
			rows = append(rows, []string{r.Name, r.Client, hello, yesNo(r.TFO), synDataText(r), elapsed, rtts, why})
			continue
		}
		rows = append(rows, []string{r.Name, r.Client, yesNo(r.TFO), synDataText(r), elapsed, rtts, why})
	}
	table.Write(w, rows)
	fmt.Fprintln(w)
	switch {
	case res.Loopback && res.HTTPS:
		fmt.Fprintf(w, "TFO saving (plain − warm with FitSYN): %.2f ms on loopback — no round trip to save here.\n", res.FitSavingMS)
	case res.HTTPS:
		writeHTTPSSummary(w, res)
	case res.Loopback:
		fmt.Fprintf(w, "TFO saving (plain − warm): %.2f ms on loopback — no round trip to save here.\n", res.SavingMS)
	default:
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
