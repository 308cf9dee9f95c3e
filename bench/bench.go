package bench

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/lab"
)

// Clients a bench can run.
const (
	// ClientLazy is the Dialer's DialContext: the first Write rides in the
	// SYN.
	ClientLazy = "lazy"
	// ClientEager is the Dialer's DialData.
	ClientEager = "eager"
	// ClientPlain is the Dialer with Disable set: plain TCP.
	ClientPlain = "plain"
	// ClientCurl is curl, run once with --tcp-fastopen and once without
	// for every sample.
	ClientCurl = "curl"
	// ClientHTTP is Go's http.Client on a fohttp.Transport, a new
	// connection per request, run with TFO and without for every sample;
	// over HTTPS with Go's default ClientHello (post-quantum key share,
	// too big for a SYN).
	ClientHTTP = "http"
	// ClientHTTPFit is ClientHTTP over HTTPS with fotls.FitSYN's
	// ClientHello, which fits in the SYN (X25519 only: no post-quantum key
	// exchange), and its session cache; TFO only, compared with
	// ClientHTTP without TFO.
	ClientHTTPFit = "http-fitsyn"
	// ClientHTTPFitFull is ClientHTTPFit without session resumption: every
	// connection makes a full TLS handshake.
	ClientHTTPFitFull = "http-fitsyn-full"
)

// Servers a bench can run against.
const (
	// ServerEcho is this project's echo server (package echo) with TFO.
	ServerEcho = "echo"
	// ServerNginx is nginx, started with a temporary configuration that
	// listens with fastopen=N; requests are HTTP GETs.
	ServerNginx = "nginx"
	// ServerHTTP is this project's HTTP server (package fohttp's Guard on
	// a fastopen listener); requests are HTTP GETs.
	ServerHTTP = "http"
	// ServerHTTPS is ServerHTTP over TLS with a self-signed certificate;
	// only the HTTP clients (ClientHTTP, ClientHTTPFit, ClientHTTPFitFull)
	// speak to it.
	ServerHTTPS = "https"
)

// Defaults of Config.
var (
	DefaultRTTs    = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}
	DefaultSizes   = []int{6}
	DefaultLosses  = []float64{0}
	DefaultClients = []string{ClientLazy, ClientEager, ClientPlain}
)

// MaxRTT is the longest round-trip time the demo and the bench emulate.
const MaxRTT = 10 * time.Second

// exchangeTimeout bounds one exchange over a link of round-trip time rtt
// unless configured: 10 s plus three round trips (two for the handshake
// and the request, one to spare), so that a long RTT does not time out a
// run that follows the physics.
func exchangeTimeout(rtt time.Duration) time.Duration {
	return 10*time.Second + 3*rtt
}

// Default run counts.
const (
	// DefaultRuns is Config.Runs when zero: timed samples per point.
	DefaultRuns = 20
	// DefaultWarmup is Config.Warmup when zero: untimed exchanges per
	// point before the samples.
	DefaultWarmup = 2
)

// Ports of the bench's servers in the server host.
const (
	benchEchoPort   = 8000 // echo, streaming: the Dialer clients read back what they sent
	benchOncePort   = 8001 // echo, reply to the first read and close: for curl
	benchNginxPort  = 8080
	benchQueueLen   = 64
	minHTTPRequest  = 64 // smallest HTTP request the bench builds
	curlRequestBase = 79 // bytes of curl's own GET without the pad header
)

// Config configures Run. Zero fields take the defaults.
type Config struct {
	// RTTs, Sizes (request bytes) and Losses (probability 0..1 of losing
	// each packet, both directions) are swept; every combination is a set
	// of points, one per client variant.
	RTTs   []time.Duration
	Sizes  []int
	Losses []float64
	// Clients are ClientLazy, ClientEager, ClientPlain, ClientCurl.
	Clients []string
	// Server is ServerEcho or ServerNginx.
	Server string
	// Runs is the number of timed samples per point; Warmup the untimed
	// exchanges before them (the first fetches the cookie).
	Runs, Warmup int
	// Timeout bounds each exchange; zero means 10s plus three times the
	// longest RTT.
	Timeout time.Duration
	// Curl and Nginx are the programs' paths; empty means look up in PATH.
	Curl, Nginx string
	// Loopback runs on loopback in Host's namespace (or the caller's)
	// instead of building a lab per RTT and loss; RTTs and Losses are then
	// ignored.
	Loopback bool
	// Host is the namespace of a loopback run.
	Host *lab.Host
	// Progress, if set, is called after every exchange with the number
	// done, the total, and what is running.
	Progress func(done, total int, what string)
}

// Result is the outcome of Run; its JSON form is what `fastopen bench
// --json` prints (see SCHEMA.md):
//
//	{"server": "echo", "runs": 20, "warmup": 2, "mss": 1460,
//	 "points": [{"rtt_ms": 100, "size": 6, "loss": 0, "client": "lazy",
//	             "server": "echo", "tfo": true, "runs": 20,
//	             "median_ms": 100.4, "p10_ms": 100.3, "p90_ms": 100.6,
//	             "syn_data_ratio": 1, "saving_ms": 100.1, ...}, ...]}
type Result struct {
	// Server is the server used.
	Server string `json:"server"`
	// Runs and Warmup are the samples and warm-up exchanges per point.
	Runs   int `json:"runs"`
	Warmup int `json:"warmup"`
	// MSS is the lab link's maximum segment size (MTU − 40 bytes of IPv4
	// and TCP headers): about the most a SYN can carry (0 on loopback).
	MSS int `json:"mss"`
	// SYNPayloadMax is the most request bytes the server saw arrive in one
	// SYN over the whole run (echo server only): the SYN's payload limit
	// when a request larger than it was swept.
	SYNPayloadMax int `json:"syn_payload_max,omitempty"`
	// Loopback is true when the bench ran on loopback.
	Loopback bool `json:"loopback"`
	// Points are the measurements, in sweep order.
	Points []Point `json:"points"`
	// LinkLatenessP99US is the worst 99th percentile of the lab
	// forwarder's delivery lateness over all labs, in microseconds.
	LinkLatenessP99US float64 `json:"link_lateness_p99_us,omitempty"`
	// Notes explain limits of the measurement.
	Notes []string `json:"notes,omitempty"`
}

// Point is one client variant at one RTT, request size and loss rate.
type Point struct {
	// RTTMS is the lab link's round-trip time (0 on loopback).
	RTTMS float64 `json:"rtt_ms"`
	// Size is the request size in bytes.
	Size int `json:"size"`
	// Loss is the probability of losing each packet, both directions.
	Loss float64 `json:"loss"`
	// Client is "lazy", "eager", "plain" or "curl".
	Client string `json:"client"`
	// Server is "echo" or "nginx".
	Server string `json:"server"`
	// TFO reports whether TFO was asked for.
	TFO bool `json:"tfo"`
	// Runs is the number of successful timed samples; Errors the failed
	// ones.
	Runs   int `json:"runs"`
	Errors int `json:"errors"`
	// Time from the start of the dial to the complete reply, in ms.
	MedianMS float64 `json:"median_ms"`
	P10MS    float64 `json:"p10_ms"`
	P90MS    float64 `json:"p90_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	MeanMS   float64 `json:"mean_ms"`
	// MedianRTTs is MedianMS in round trips (0 on loopback).
	MedianRTTs float64 `json:"median_rtts"`
	// SYNDataRatio is the share of samples whose data rode in the SYN and
	// was accepted (connection info for the Dialer, the client kernel's
	// TCPFastOpenActive counter for curl). A silent fallback counts as
	// not in the SYN.
	SYNDataRatio float64 `json:"syn_data_ratio"`
	// SYNBytesMax is the most request bytes the server saw arrive in a SYN
	// (echo server only; 0 otherwise).
	SYNBytesMax int `json:"syn_bytes_max,omitempty"`
	// SYNSentBytesMax is the most request bytes the client's kernel put in
	// a SYN (fastopen.Info.SYNSentBytes; this project's clients only).
	SYNSentBytesMax int `json:"syn_sent_bytes_max,omitempty"`
	// PartialSYNRatio is the share of samples whose SYN data was accepted
	// but was only part of the first write (reason too_big_for_syn): the
	// server could not answer before the rest arrived.
	PartialSYNRatio float64 `json:"partial_syn_ratio,omitempty"`
	// Baseline names the plain client this TFO point is compared with;
	// SavingMS and SavingRTTs are its median minus this point's median.
	Baseline   string  `json:"baseline,omitempty"`
	SavingMS   float64 `json:"saving_ms,omitempty"`
	SavingRTTs float64 `json:"saving_rtts,omitempty"`
	// SamplesMS are the timed samples in order.
	SamplesMS []float64 `json:"samples_ms"`
	// FirstError is the first failure's message, if any.
	FirstError string `json:"first_error,omitempty"`
}

// variant is a client as run: a client name and whether TFO is on.
type variant struct {
	client string
	tfo    bool
}

func variants(clients []string) ([]variant, error) {
	var vs []variant
	seen := map[string]bool{}
	for _, c := range clients {
		if seen[c] {
			continue
		}
		seen[c] = true
		switch c {
		case ClientLazy, ClientEager:
			vs = append(vs, variant{c, true})
		case ClientPlain:
			vs = append(vs, variant{c, false})
		case ClientCurl, ClientHTTP:
			vs = append(vs, variant{c, true}, variant{c, false})
		case ClientHTTPFit, ClientHTTPFitFull:
			vs = append(vs, variant{c, true})
		default:
			return nil, fmt.Errorf("unknown client %q: want lazy, eager, plain, curl, http, http-fitsyn or http-fitsyn-full", c)
		}
	}
	if len(vs) == 0 {
		return nil, errors.New("no client given: want lazy, eager, plain, curl, http, http-fitsyn or http-fitsyn-full")
	}
	return vs, nil
}

// ErrConfig is wrapped by the errors Run and RunRate return for a bad
// Config or RateConfig, before anything runs; the rest of the message
// says which field is wrong and what is accepted.
var ErrConfig = errors.New("bad bench configuration")

// ErrMissingTool is wrapped by the error Run returns, before anything
// runs, when a client or server the Config names (curl, nginx) is not
// installed; the message says how to install it.
var ErrMissingTool = errors.New("not installed")

// validate checks cfg and fills in defaults.
func (cfg *Config) validate() ([]variant, error) {
	vs, err := cfg.check()
	if err != nil && !errors.Is(err, ErrMissingTool) {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return vs, err
}

func (cfg *Config) check() ([]variant, error) {
	if len(cfg.RTTs) == 0 {
		cfg.RTTs = DefaultRTTs
	}
	if cfg.Loopback {
		cfg.RTTs, cfg.Losses = []time.Duration{0}, []float64{0}
	}
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = DefaultSizes
	}
	if len(cfg.Losses) == 0 {
		cfg.Losses = DefaultLosses
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = DefaultClients
	}
	if cfg.Server == "" {
		cfg.Server = ServerEcho
	}
	if cfg.Runs == 0 {
		cfg.Runs = DefaultRuns
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = DefaultWarmup
	}
	for _, r := range cfg.RTTs {
		if r < 0 || (r == 0 && !cfg.Loopback) || r > MaxRTT {
			return nil, fmt.Errorf("RTT %v: want a round-trip time above 0 and up to %v, such as 50ms", r, MaxRTT)
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = exchangeTimeout(slices.Max(cfg.RTTs))
	}
	for _, s := range cfg.Sizes {
		if s < 1 || s > 1<<20 {
			return nil, fmt.Errorf("request size %d: want 1 byte to 1 MiB", s)
		}
	}
	for _, l := range cfg.Losses {
		if !validLoss(l) {
			return nil, fmt.Errorf("loss %v: want a probability from 0 up to (not including) 1, e.g. 0.01", l)
		}
	}
	if cfg.Runs < 1 || cfg.Warmup < 1 {
		return nil, fmt.Errorf("runs %d, warmup %d: want at least 1 of each (the first warm-up exchange fetches the cookie)", cfg.Runs, cfg.Warmup)
	}
	switch cfg.Server {
	case ServerEcho, ServerNginx, ServerHTTP, ServerHTTPS:
	default:
		return nil, fmt.Errorf("unknown server %q: want echo, nginx, http or https", cfg.Server)
	}
	vs, err := variants(cfg.Clients)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		switch {
		case cfg.Server == ServerHTTPS && !isHTTPClient(v.client):
			return nil, fmt.Errorf("client %s cannot speak to server https: want clients http, http-fitsyn and http-fitsyn-full (the others send raw bytes, not TLS)", v.client)
		case v.client == ClientHTTP && cfg.Server == ServerEcho:
			return nil, fmt.Errorf("client http needs an HTTP server: --server http, https or nginx")
		case (v.client == ClientHTTPFit || v.client == ClientHTTPFitFull) && cfg.Server != ServerHTTPS:
			return nil, fmt.Errorf("client %s fits a TLS ClientHello in the SYN: it needs --server https", v.client)
		}
	}
	for _, v := range vs {
		if v.client == ClientCurl && cfg.Curl == "" {
			if cfg.Curl, err = exec.LookPath("curl"); err != nil {
				return nil, fmt.Errorf("client curl: curl is %w (apt-get install curl)", ErrMissingTool)
			}
		}
	}
	if cfg.Server == ServerNginx && cfg.Nginx == "" {
		if cfg.Nginx, err = exec.LookPath("nginx"); err != nil {
			return nil, fmt.Errorf("server nginx: nginx is %w (apt-get install nginx-light)", ErrMissingTool)
		}
	}
	return vs, nil
}

// Run sweeps the configured RTTs, sizes and losses. For each RTT and loss
// it builds a lab, starts the server, and for each size runs the warm-up
// and then Runs rounds in which every client variant runs once (the
// order rotating from round to round), so drift hits all alike. It
// always cleans up, also when ctx is cancelled. A bad cfg gives an error
// wrapping ErrConfig; without privileges it fails with an error wrapping
// ErrNeedRoot. A failed exchange is counted in its Point (Errors,
// FirstError), not returned; an error that stops the sweep (ctx ended,
// the lab or server could not start) is returned with the points
// measured so far.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	vs, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	res := &Result{Server: cfg.Server, Runs: cfg.Runs, Warmup: cfg.Warmup, Loopback: cfg.Loopback}
	if !cfg.Loopback {
		res.MSS = lab.DefaultMTU - 40
	}
	total := len(cfg.RTTs) * len(cfg.Losses) * len(cfg.Sizes) * len(vs) * (cfg.Runs + cfg.Warmup)
	done := 0
	for _, rtt := range cfg.RTTs {
		for _, loss := range cfg.Losses {
			pts, err := runLab(ctx, &cfg, vs, rtt, loss, res, func(what string) {
				done++
				if cfg.Progress != nil {
					cfg.Progress(done, total, what)
				}
			})
			res.Points = append(res.Points, pts...)
			if err != nil {
				return res, err
			}
		}
	}
	computeSavings(res.Points)
	for _, p := range res.Points {
		res.SYNPayloadMax = max(res.SYNPayloadMax, p.SYNBytesMax)
	}
	if cfg.Server == ServerNginx || cfg.Server == ServerHTTP || cfg.Server == ServerHTTPS {
		res.Notes = append(res.Notes, fmt.Sprintf("%s: requests are HTTP GETs of at least %d bytes, padded with X-Pad headers to about the size", cfg.Server, minHTTPRequest))
	}
	if hasClient(vs, ClientHTTP) || hasClient(vs, ClientHTTPFit) || hasClient(vs, ClientHTTPFitFull) {
		res.Notes = append(res.Notes, "http clients: Go's http.Client on fohttp.Transport, a new connection per request, timed to the end of the body")
	}
	if cfg.Server == ServerHTTPS {
		res.Notes = append(res.Notes, "https: http uses Go's default ClientHello (post-quantum key share, ~1.5 KB: too big for a SYN); http-fitsyn uses fotls.FitSYN (X25519 only, ~300 B: fits, but no post-quantum key exchange) and resumes TLS sessions; http-fitsyn-full makes a full handshake every time")
	}
	if cfg.Server == ServerEcho && hasClient(vs, ClientCurl) {
		res.Notes = append(res.Notes, "curl against the echo server: the echo server answers curl's first read, so for requests larger than one read (2 KiB) the time is to the reply to the first part; use --server nginx to time whole curl requests")
	}
	if cfg.Loopback {
		res.Notes = append(res.Notes, "loopback: there is no round trip to save, the numbers show the per-connection cost only")
		if n := loopbackModeNote(newLoopbackEnv(cfg.Host)); n != "" {
			res.Notes = append(res.Notes, n)
		}
	}
	return res, nil
}

func hasClient(vs []variant, c string) bool {
	for _, v := range vs {
		if v.client == c {
			return true
		}
	}
	return false
}

// server is a running bench server.
type server struct {
	stream netip.AddrPort // Dialer clients
	once   netip.AddrPort // curl
	http   bool           // requests must be HTTP
	infos  chan fastopen.Info
	stop   func()
	// The HTTP servers' URL and, for HTTPS, the certificate to trust;
	// the Go HTTP client of each variant.
	url     string
	pool    *x509.CertPool
	clients map[variant]*http.Client
}

// startServer starts the configured server in e's server namespace.
func startServer(ctx context.Context, cfg *Config, e *env) (*server, error) {
	ctx, cancel := context.WithCancel(ctx)
	if cfg.Server == ServerNginx {
		addr := netip.AddrPortFrom(e.serverIP, benchNginxPort)
		stop, err := startNginx(ctx, cfg.Nginx, e, addr, benchQueueLen)
		if err != nil {
			cancel()
			return nil, err
		}
		return &server{stream: addr, once: addr, http: true, url: "http://" + addr.String() + "/", stop: func() { cancel(); stop() }}, nil
	}
	if cfg.Server == ServerHTTP || cfg.Server == ServerHTTPS {
		useTLS := cfg.Server == ServerHTTPS
		addr := netip.AddrPortFrom(e.serverIP, benchHTTPPort)
		scheme := "http://"
		if useTLS {
			addr, scheme = netip.AddrPortFrom(e.serverIP, benchHTTPSPort), "https://"
		}
		s := &server{stream: addr, once: addr, http: true, url: scheme + addr.String() + "/", infos: make(chan fastopen.Info, 64)}
		_, pool, stop, err := startHTTPServer(ctx, e, addr, useTLS, s.infos)
		if err != nil {
			cancel()
			return nil, err
		}
		s.pool, s.stop = pool, func() { cancel(); stop() }
		return s, nil
	}
	s := &server{
		stream: netip.AddrPortFrom(e.serverIP, benchEchoPort),
		once:   netip.AddrPortFrom(e.serverIP, benchOncePort),
		infos:  make(chan fastopen.Info, 64),
	}
	accepted := func(_ net.Conn, info fastopen.Info) {
		select {
		case s.infos <- info:
		default:
		}
	}
	d1, err := startEcho(ctx, e, s.stream, echo.Server{Stream: true, Accepted: accepted}, benchQueueLen)
	if err != nil {
		cancel()
		return nil, err
	}
	d2, err := startEcho(ctx, e, s.once, echo.Server{Accepted: accepted}, benchQueueLen)
	if err != nil {
		cancel()
		<-d1
		return nil, err
	}
	s.stop = func() { cancel(); <-d1; <-d2 }
	return s, nil
}

// drainInfos returns the most SYN bytes among the server infos queued.
func (s *server) drainInfos() int {
	m := 0
	for {
		select {
		case i := <-s.infos:
			m = max(m, i.SYNBytes)
		default:
			return m
		}
	}
}

// runLab measures every size and variant in one lab (or on loopback).
func runLab(ctx context.Context, cfg *Config, vs []variant, rtt time.Duration, loss float64, res *Result, tick func(string)) ([]Point, error) {
	var e *env
	if cfg.Loopback {
		e = newLoopbackEnv(cfg.Host)
	} else {
		var err error
		e, err = newLabEnv(lab.Config{RTT: rtt, Up: lab.LinkConfig{Loss: loss}, Down: lab.LinkConfig{Loss: loss}})
		if err != nil {
			return nil, err
		}
	}
	defer func() {
		if p99 := e.lateness(); p99 > 0 {
			res.LinkLatenessP99US = max(res.LinkLatenessP99US, float64(p99)/float64(time.Microsecond))
		}
		e.close()
	}()
	srv, err := startServer(ctx, cfg, e)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	var out []Point
	for _, size := range cfg.Sizes {
		pts := make([]Point, len(vs))
		for i, v := range vs {
			pts[i] = Point{RTTMS: msOf(rtt), Size: size, Loss: loss, Client: v.client, Server: cfg.Server, TFO: v.tfo}
		}
		label := func(v variant) string {
			return fmt.Sprintf("rtt %v, %d B, loss %g, %s", rtt, size, loss, variantName(v))
		}
		for w := 0; w < cfg.Warmup; w++ {
			for _, v := range vs {
				if _, err := exchange(ctx, cfg, e, srv, v, size); err != nil && ctx.Err() != nil {
					return out, ctx.Err()
				}
				tick("warm-up " + label(v))
			}
		}
		if srv.infos != nil {
			srv.drainInfos()
		}
		for r := 0; r < cfg.Runs; r++ {
			for k := range vs {
				i := (k + r) % len(vs)
				v := vs[i]
				smp, err := exchange(ctx, cfg, e, srv, v, size)
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				p := &pts[i]
				if err != nil {
					p.Errors++
					if p.FirstError == "" {
						p.FirstError = err.Error()
					}
				} else {
					p.SamplesMS = append(p.SamplesMS, msOf(smp.elapsed))
					if smp.synData {
						p.SYNDataRatio++
					}
					if smp.partial {
						p.PartialSYNRatio++
					}
					p.SYNSentBytesMax = max(p.SYNSentBytesMax, smp.synSent)
				}
				if srv.infos != nil {
					// curl's own request is at least curlRequestBase bytes,
					// whatever the size: its SYN bytes are not the point's.
					if m := srv.drainInfos(); v.client != ClientCurl {
						p.SYNBytesMax = max(p.SYNBytesMax, m)
					}
				}
				tick(label(v))
			}
		}
		for i := range pts {
			pts[i].summarize()
		}
		out = append(out, pts...)
	}
	return out, nil
}

func variantName(v variant) string {
	switch v.client {
	case ClientCurl:
		if v.tfo {
			return "curl --tcp-fastopen"
		}
		return "curl"
	case ClientHTTP:
		if !v.tfo {
			return "http, no TFO"
		}
	}
	return v.client
}

// sample is the outcome of one exchange.
type sample struct {
	elapsed time.Duration // to the complete reply
	synData bool          // data rode in the SYN and was accepted
	partial bool          // ... but only part of the first write (too_big_for_syn)
	synSent int           // bytes the client's kernel put in the SYN (0 if unknown)
}

// sampleOf is the sample of an exchange that took d, from the client's
// connection info.
func sampleOf(d time.Duration, inf fastopen.Info) sample {
	return sample{elapsed: d, synData: inf.SYNData, partial: inf.Reason == fastopen.ReasonTooBigForSYN, synSent: inf.SYNSentBytes}
}

// exchange runs one request of size bytes with variant v and returns the
// time to the complete reply and what rode in the SYN.
func exchange(ctx context.Context, cfg *Config, e *env, srv *server, v variant, size int) (sample, error) {
	if isHTTPClient(v.client) {
		if srv.clients[v] == nil {
			if srv.clients == nil {
				srv.clients = map[variant]*http.Client{}
			}
			srv.clients[v] = httpClient(e, srv, v, cfg.Timeout)
		}
		return httpExchange(ctx, srv, v, size)
	}
	if v.client == ClientCurl {
		d, syn, err := curlExchange(ctx, cfg, e, srv, v, size)
		return sample{elapsed: d, synData: syn}, err
	}
	req := echo.Request{Network: "tcp", Address: srv.stream.String(), Data: payload(size), ReplySize: size}
	if srv.http {
		req.Data, req.ReplySize = httpRequest(srv.stream, size), 0
	}
	if v.client == ClientEager {
		req.Mode = echo.Eager
	}
	// The bench measures TFO itself: no path memory turning it off after a random loss.
	d := &fastopen.Dialer{Disable: !v.tfo, IgnorePathMemory: true}
	var r echo.Result
	err := e.client(func() error {
		sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		var err error
		r, err = echo.Send(sctx, d, req)
		return err
	})
	if err != nil {
		return sample{}, err
	}
	if srv.http && !strings.HasPrefix(string(r.Reply), "HTTP/1.1 200") {
		return sample{}, fmt.Errorf("%s server replied %q", cfg.Server, firstLine(r.Reply))
	}
	if !srv.http && len(r.Reply) != size {
		return sample{}, fmt.Errorf("echo reply of %d bytes, want %d", len(r.Reply), size)
	}
	return sampleOf(r.Elapsed, r.Info), nil
}

// curlExchange runs curl once; whether its data rode in the SYN is told
// by the client namespace's TCPFastOpenActive counter.
func curlExchange(ctx context.Context, cfg *Config, e *env, srv *server, v variant, size int) (time.Duration, bool, error) {
	before, err := activeCount(e)
	if err != nil {
		return 0, false, err
	}
	t, err := runCurl(ctx, e.clientHost, cfg.Curl, srv.once, v.tfo, max(0, size-curlRequestBase-len("X-Pad: \r\n")), cfg.Timeout)
	if err != nil {
		return 0, false, err
	}
	after, err := activeCount(e)
	if err != nil {
		return 0, false, err
	}
	return t.Total, after > before, nil
}

const counterActive = "TcpExt.TCPFastOpenActive"

func activeCount(e *env) (uint64, error) {
	var n uint64
	err := e.client(func() error {
		c, err := kernel.ReadCounters()
		n = c[counterActive]
		return err
	})
	return n, err
}

// payload is size bytes of printable data.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// httpRequest is a GET of size bytes (at least minHTTPRequest; up to 8
// bytes more when the padding does not come out even), padded with X-Pad
// headers.
func httpRequest(addr netip.AddrPort, size int) []byte {
	head := "GET / HTTP/1.1\r\nHost: " + addr.String() + "\r\nConnection: close\r\n"
	end := "\r\n"
	var b strings.Builder
	b.WriteString(head)
	left := max(size, minHTTPRequest) - len(head) - len(end)
	const hdr = "X-Pad: \r\n"
	for left > 0 {
		n := max(0, min(left-len(hdr), 4000))
		b.WriteString("X-Pad: " + strings.Repeat("x", n) + "\r\n")
		left -= n + len(hdr)
	}
	b.WriteString(end)
	return []byte(b.String())
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}
