// Package probe tells whether TCP Fast Open works to a service, over the
// path from here, and what it saves: `fastopen probe` and its Prometheus
// endpoint are built on it.
//
// A Prober resolves a name and probes every address: a cold connection
// that asks for a cookie (after flushing the kernel's cached one, when
// privileged), then warm connections with TFO and plain connections
// alternately, each sending a real first flight (Kind). What the client
// can observe — fastopen.Info from TCP_INFO, the kernel's cookie cache and
// fo_syn_drops (tcp_metrics), the clock, and with Trace a capture of its
// own packets — goes into Classify, which gives each address a Verdict.
//
//	p := probe.Prober{As: probe.HTTP}
//	r, err := p.Probe(ctx, "example.com:80")
//	fmt.Println(r.Overall, r.Overall.Describe())
//
// A client alone cannot see everything: a server with TFO off and a
// middlebox that strips the option from the SYN look the same from here
// (Verdict NoCookie says so); see the verdicts' documentation for what
// each rests on.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/sysctl"
)

// Defaults and bounds of a Prober's settings.
const (
	// DefaultCount is the number of warm TFO connections (and of plain
	// ones) per address when Prober.Count is zero.
	DefaultCount = 3
	// MaxCount bounds Prober.Count.
	MaxCount = 20
	// DefaultTimeout bounds each connection when Prober.Timeout is zero.
	DefaultTimeout = 5 * time.Second
	// MaxTimeout bounds Prober.Timeout.
	MaxTimeout = time.Minute
	// MaxAddresses bounds how many of a name's addresses are probed.
	MaxAddresses = 16
)

// Prober probes services. The zero value probes with Raw first flights,
// DefaultCount and DefaultTimeout. A Prober may be used by several
// goroutines at once; probes of the same address are serialised, since
// they share the kernel's cookie cache.
type Prober struct {
	// As is the first flight (Raw if empty).
	As Kind
	// Count is the number of warm TFO connections, and of plain ones, per
	// address (DefaultCount if zero, at most MaxCount). A failure that
	// costs a SYN timeout stops the TFO connections after it repeats.
	Count int
	// Timeout bounds each connection: handshake and first answer
	// (DefaultTimeout if zero, at most MaxTimeout).
	Timeout time.Duration
	// Trace captures the probe's own packets (needs CAP_NET_RAW) to
	// strengthen the evidence; without privileges the probe goes on
	// without and says so.
	Trace bool
	// Resolve returns the addresses of host; nil uses the system
	// resolver. Tests and callers with their own name service set it.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Run runs fn, which probes one address, where the probe must happen;
	// nil calls fn directly. A lab host's Run probes from inside its
	// network namespace. fn makes its sockets on the calling thread.
	Run func(fn func() error) error
	// Progress, when set, receives a line per step and, while a
	// connection waits on a timeout, a line per second.
	Progress io.Writer
	// PathMemory is the path memory each address's verdict is compared
	// with (Address.Path), together with the kernel's record of SYN-data
	// losses; nil means fastopen.DefaultPathMemory, as for a Dialer. The
	// probe itself measures TFO whatever the memory says.
	PathMemory *fastopen.PathMemory
	// Teach records each address's verdict in PathMemory
	// (Verdict.PathCause, PathMemory.Record): a failure makes Dialers
	// using that memory avoid TFO to the address at once, with their
	// backoff; TFO working clears earlier failures. Off by default: a
	// probe only observes.
	Teach bool
}

// Report is the result of probing one name.
type Report struct {
	// Target is what was probed, "host:port".
	Target string `json:"target"`
	// As is the first flight used.
	As Kind `json:"as"`
	// Addresses holds one result per address, in the resolver's order.
	Addresses []*Address `json:"addresses"`
	// Overall combines the addresses' verdicts (see Overall).
	Overall Verdict `json:"overall"`
	// Category is Overall's category.
	Category Category `json:"category"`
	// Text and Advice put Overall in words.
	Text   string `json:"text"`
	Advice string `json:"advice"`
	// Duration is how long the whole probe took. JSON: nanoseconds.
	Duration time.Duration `json:"duration_ns"`
	// PathDisagreements counts the addresses whose path memory does not
	// do what their verdict calls for (PathView.Match is PathDisagrees).
	PathDisagreements int `json:"path_disagreements"`
}

// Address is what probing one address found.
type Address struct {
	// Address is the address and port probed.
	Address netip.AddrPort `json:"address"`
	// Verdict is Classify's conclusion; Category, Text and Advice
	// explain it.
	Verdict  Verdict  `json:"verdict"`
	Category Category `json:"category"`
	Text     string   `json:"text"`
	Advice   string   `json:"advice"`
	// Evidence lists, in words, what the verdict rests on.
	Evidence []string `json:"evidence"`
	// Conns are the connections made, in order.
	Conns []Conn `json:"conns"`
	// Warm and Plain are the median times to the first answer byte of
	// TFO connections whose data rode in the SYN and of plain ones; zero
	// when there were none. Cold is the cold connection's.
	Cold  time.Duration `json:"cold_ns"`
	Warm  time.Duration `json:"warm_ns"`
	Plain time.Duration `json:"plain_ns"`
	// RTT is the shortest plain handshake, the round trip to the address.
	RTT time.Duration `json:"rtt_ns"`
	// Saving is Plain − Warm (when both are known), SavingRTTs in RTTs.
	Saving     time.Duration `json:"saving_ns"`
	SavingRTTs float64       `json:"saving_rtts"`
	// Cookie is the cookie the kernel holds for the address after the
	// probe (hex), SYNDrops its fo_syn_drops.
	Cookie   string `json:"cookie,omitempty"`
	SYNDrops int    `json:"syn_drops"`
	// Flushed: the cookie cache entry was flushed before the cold
	// connection (needs CAP_NET_ADMIN), so it started cold for certain.
	Flushed bool `json:"flushed"`
	// Captured: a capture of the probe's packets is part of the evidence.
	Captured bool `json:"captured"`
	// Path is what the path memory says about the address, compared with
	// the verdict (see PathView); nil when the address was not probed.
	Path *PathView `json:"path_memory,omitempty"`
}

// Conn is one connection of a probe.
type Conn struct {
	// Kind is "cold", "warm" or "plain".
	Kind string `json:"kind"`
	Observation
	// ReasonText is Reason in words.
	ReasonText string `json:"reason_text,omitempty"`
	// Connect is the time the dial took (a lazy TFO dial returns at once),
	// FirstByte the time from the dial to the answer's first byte (zero
	// without an answer). JSON: nanoseconds.
	Connect   time.Duration `json:"connect_ns"`
	FirstByte time.Duration `json:"first_byte_ns"`
	// Err says what went wrong, if anything.
	Err string `json:"error,omitempty"`
}

func (p *Prober) count() int {
	switch {
	case p.Count <= 0:
		return DefaultCount
	case p.Count > MaxCount:
		return MaxCount
	}
	return p.Count
}

func (p *Prober) timeout() time.Duration {
	switch {
	case p.Timeout <= 0:
		return DefaultTimeout
	case p.Timeout > MaxTimeout:
		return MaxTimeout
	}
	return p.Timeout
}

func (p *Prober) kind() Kind {
	if p.As == "" {
		return Raw
	}
	return p.As
}

func (p *Prober) progress(format string, a ...any) {
	if p.Progress != nil {
		fmt.Fprintf(p.Progress, format+"\n", a...)
	}
}

// SplitTarget checks a "host:port" target and splits it. The host is a
// name (at most 253 characters of letters, digits, '-', '_' and '.') or an
// IP address; the port a number from 1 to 65535.
func SplitTarget(target string) (string, uint16, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return "", 0, fmt.Errorf("target %q: want host:port, e.g. example.com:443 or [2001:db8::1]:53", target)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("target %q: port %q is not a number from 1 to 65535", target, port)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host, uint16(n), nil
	}
	if host == "" || len(host) > 253 {
		return "", 0, fmt.Errorf("target %q: host name must have 1 to 253 characters", target)
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || strings.IndexFunc(label, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) >= 0 {
			return "", 0, fmt.Errorf("target %q: %q is not a valid host name (letters, digits, '-', '_' in dot-separated labels of 1-63)", target, host)
		}
	}
	return host, uint16(n), nil
}

// Probe resolves target ("host:port") and probes each of its addresses
// (at most MaxAddresses) one after the other. ctx bounds the whole probe:
// when it ends, the connections not yet made are left out and the
// verdicts rest on those that were. An error means nothing could be
// probed (bad target, name not resolved).
func (p *Prober) Probe(ctx context.Context, target string) (*Report, error) {
	start := time.Now()
	host, port, err := SplitTarget(target)
	if err != nil {
		return nil, err
	}
	if _, err := ParseKind(string(p.kind())); err != nil {
		return nil, err
	}
	addrs, err := p.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	r := &Report{Target: net.JoinHostPort(host, strconv.Itoa(int(port))), As: p.kind()}
	var vs []Verdict
	for i, a := range addrs {
		ap := netip.AddrPortFrom(a, port)
		if ctx.Err() != nil {
			// Out of time: say so rather than blame the address.
			r.Addresses = append(r.Addresses, &Address{Address: ap, Verdict: Inconclusive, Category: Inconclusive.Category(),
				Text: Inconclusive.Describe(), Advice: Inconclusive.Advice(), Evidence: []string{"not probed: the probe's time ran out"}})
			vs = append(vs, Inconclusive)
			continue
		}
		p.progress("probing %s (address %d of %d) with %s first flights", ap, i+1, len(addrs), p.kind())
		var res *Address
		run := p.Run
		if run == nil {
			run = func(fn func() error) error { return fn() }
		}
		unlock := func() {}
		if p.Run == nil {
			// Probes through Run may be in other network namespaces,
			// each with its own cookie cache.
			unlock = lockAddr(a)
		}
		err := run(func() error {
			res = p.probeAddr(ctx, host, ap)
			p.consultPath(res)
			return nil
		})
		unlock()
		if err != nil {
			return nil, err
		}
		p.progress("  %s: %s", ap, res.Verdict)
		if res.Path != nil && res.Path.Match == PathDisagrees {
			r.PathDisagreements++
		}
		r.Addresses = append(r.Addresses, res)
		vs = append(vs, res.Verdict)
	}
	r.Overall = Overall(vs)
	r.Category = r.Overall.Category()
	r.Text, r.Advice = r.Overall.Describe(), r.Overall.Advice()
	if n := countNot(vs, r.Overall); r.Overall != Works && n > 0 {
		r.Text = fmt.Sprintf("%s (%d of %d addresses)", r.Text, len(vs)-n, len(vs))
	}
	r.Duration = time.Since(start)
	return r, nil
}

func countNot(vs []Verdict, v Verdict) int {
	n := 0
	for _, x := range vs {
		if x != v {
			n++
		}
	}
	return n
}

func (p *Prober) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	resolve := p.Resolve
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	addrs, err := resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.IsValid() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	if len(out) > MaxAddresses {
		out = out[:MaxAddresses]
	}
	return out, nil
}

// probeAddr probes one address on the calling thread.
func (p *Prober) probeAddr(ctx context.Context, host string, ap netip.AddrPort) *Address {
	res := &Address{Address: ap}
	var ev Evidence
	var notes []string
	switch err := cookie.Flush(ap.Addr()); {
	case err == nil, errors.Is(err, cookie.ErrNoCookie):
		res.Flushed = true
	default:
		notes = append(notes, fmt.Sprintf("the cached cookie could not be flushed (%v): the first connection is cold only if none was cached", err))
	}
	if _, _, err := cookieOf(ap.Addr()); err != nil {
		notes = append(notes, fmt.Sprintf("the kernel's cookie cache could not be read (%v): cookies received or changed cannot be seen", err))
	}
	var capt capture
	if p.Trace {
		c, err := startCapture(ap)
		if err != nil {
			notes = append(notes, fmt.Sprintf("no capture: %v", err))
		} else {
			capt = c
		}
	}
	conn := func(kind string, tfo bool) Observation {
		c := p.connect(ctx, host, ap, kind, tfo)
		res.Conns = append(res.Conns, c)
		ev.Conns = append(ev.Conns, c.Observation)
		return c.Observation
	}
	tfoFailures := 0
	var lastReason fastopen.Reason
	// A failure that costs a SYN timeout (or the whole connection) is not
	// repeated beyond twice: twice tells it from random loss.
	tally := func(o Observation) {
		costly := o.Failed || o.Reason == fastopen.ReasonSYNRetransmitted || o.SYNRetransmitted
		switch {
		case !costly:
			tfoFailures = 0
		case tfoFailures == 0 || o.Reason == lastReason:
			tfoFailures++
		default:
			tfoFailures = 1
		}
		lastReason = o.Reason
		if tfoFailures == 2 {
			notes = append(notes, "TFO connections stopped after the same costly failure twice")
		}
	}
	cold := conn("cold", true)
	tally(cold)
	if cold.Failed {
		// Say whether anything answers before spending more timeouts.
		if pl := conn("plain", false); pl.Failed {
			return p.finish(res, ev, notes, capt)
		}
	}
	for i := 0; i < p.count() && ctx.Err() == nil; i++ {
		conn("plain", false)
		if ctx.Err() != nil || tfoFailures >= 2 {
			continue
		}
		tally(conn("warm", true))
	}
	return p.finish(res, ev, notes, capt)
}

// finish classifies and fills in timings and evidence.
func (p *Prober) finish(res *Address, ev Evidence, notes []string, capt capture) *Address {
	if cookie, drops, err := cookieOf(res.Address.Addr()); err == nil {
		res.Cookie = fmt.Sprintf("%x", cookie)
		res.SYNDrops = drops
		ev.SYNDrops = drops
	}
	if capt != nil {
		ce, flowNotes, err := capt.stop()
		if err != nil {
			notes = append(notes, fmt.Sprintf("capture failed: %v", err))
		} else {
			ev.Capture = ce
			res.Captured = true
			notes = append(notes, flowNotes...)
		}
	}
	res.Verdict = Classify(ev)
	res.Category = res.Verdict.Category()
	res.Text, res.Advice = res.Verdict.Describe(), res.Verdict.Advice()

	var warm, plain []time.Duration
	for _, c := range res.Conns {
		switch {
		case c.Failed || c.FirstByte == 0:
		case c.Kind == "cold":
			res.Cold = c.FirstByte
		case c.Kind == "warm" && c.SYNData:
			warm = append(warm, c.FirstByte)
		case c.Kind == "plain":
			plain = append(plain, c.FirstByte)
			if !c.SYNRetransmitted && (res.RTT == 0 || c.Connect < res.RTT) {
				res.RTT = c.Connect
			}
		}
	}
	res.Warm, res.Plain = median(warm), median(plain)
	if res.Warm > 0 && res.Plain > 0 {
		res.Saving = res.Plain - res.Warm
		if res.RTT > 0 {
			res.SavingRTTs = float64(res.Saving) / float64(res.RTT)
		}
	}
	res.Evidence = append(evidence(res, ev), notes...)
	if res.Category == CategoryPath {
		costly := 0
		for _, o := range ev.Conns {
			if o.FastOpen && !o.Failed && (o.SYNRetransmitted || o.Reason == fastopen.ReasonSYNRetransmitted) {
				costly++
			}
		}
		if costly < 2 && res.Verdict != OptionStripped {
			res.Evidence = append(res.Evidence, "seen once only: random loss cannot be excluded (probe with --count 2 or more)")
		}
	}
	if res.Category == CategoryLocal {
		if r, err := kernel.Check(); err == nil {
			res.Evidence = append(res.Evidence, fmt.Sprintf("kernel: %s = %s; %d blackhole detection(s) (TcpExt.TCPFastOpenBlackhole), %s = %d",
				sysctl.FastOpen, r.Mode, r.BlackholeEvents, sysctl.BlackholeTimeout, r.BlackholeTimeoutSec))
		}
	}
	return res
}

// median returns the median of ds, which it sorts.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	if n := len(ds); n%2 == 0 {
		return (ds[n/2-1] + ds[n/2]) / 2
	}
	return ds[len(ds)/2]
}

// synTimeout is the kernel's initial retransmission timeout
// (TCP_TIMEOUT_INIT, include/net/tcp.h): what a lost SYN costs.
const synTimeout = time.Second

// connect makes one connection with the first flight and records what it
// showed.
func (p *Prober) connect(ctx context.Context, host string, ap netip.AddrPort, kind string, tfo bool) Conn {
	c := Conn{Kind: kind}
	c.FastOpen = tfo
	c.CookieSent, _, _ = cookieOf(ap.Addr())
	timeout := p.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stopWait := p.waiting(kind)
	defer stopWait()
	// The probe measures TFO itself: the path memory must not leave it out.
	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: timeout}, Disable: !tfo, IgnorePathMemory: true}
	start := time.Now()
	nc, err := d.DialContext(ctx, "tcp", ap.String())
	c.Connect = time.Since(start)
	if err != nil {
		c.Failed, c.Err = true, err.Error()
		return c
	}
	fc, ok := nc.(*fastopen.Conn)
	if !ok {
		nc.Close()
		c.Failed, c.Err = true, fmt.Sprintf("dial returned a %T, not a *fastopen.Conn", nc)
		return c
	}
	defer fc.Close()
	if inf, err := fc.Info(); err == nil && !inf.HadCookie && inf.Reason != fastopen.ReasonPending {
		// The dial did the handshake: all that was sent is the SYN.
		c.HandshakeRTT = inf.RTT
		if n, err := synRetransmits(fc); err == nil {
			c.SYNRetransmitted = n > 0
		}
	}
	fc.SetDeadline(start.Add(timeout))
	c.FirstByte, err = p.kind().exchange(ctx, fc, host, ap.Port(), start)
	if err != nil {
		c.Err = err.Error()
	}
	c.Slow = c.FirstByte > synTimeout
	inf, ierr := fc.Info()
	if ierr == nil {
		c.HadCookie, c.SentInSYN, c.SYNData, c.Reason = inf.HadCookie, inf.SentInSYN, inf.SYNData, inf.Reason
		if inf.Reason == fastopen.ReasonPending {
			c.Failed = true // the handshake never completed
		}
		if c.Reason != fastopen.ReasonNone {
			c.ReasonText = c.Reason.String()
		}
	}
	fc.Close()
	c.CookieAfter, _, _ = cookieOf(ap.Addr())
	return c
}

// waiting prints a line per second while a connection waits, so that a
// SYN timeout does not look like a hang.
func (p *Prober) waiting(kind string) (stop func()) {
	if p.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.progress("  %s connection: still waiting after %.0f s (a lost SYN is sent again after 1 s, then 2 s, ...)", kind, time.Since(start).Seconds())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// evidence puts what the connections showed into words.
func evidence(res *Address, ev Evidence) []string {
	var out []string
	for i, c := range res.Conns {
		var s string
		switch {
		case c.Failed:
			s = "no connection: " + c.Err
		case !c.FastOpen:
			s = "plain TCP"
			if c.SYNRetransmitted {
				s += ", SYN sent again"
			}
		case c.Reason == fastopen.ReasonKernelOff || c.Reason == fastopen.ReasonUnsupported:
			s = "plain SYN: " + c.Reason.String()
		case c.Reason == fastopen.ReasonUnknown && !c.SentInSYN:
			s = "the kernel sent neither data nor a cookie request in the SYN (" + c.Reason.Code() + ": client TFO paused?)"
		case !c.HadCookie:
			s = "cookie requested"
			if len(c.CookieAfter) > 0 && len(c.CookieSent) == 0 {
				s += fmt.Sprintf(", cookie %x received", c.CookieAfter)
			} else if len(c.CookieAfter) == 0 {
				s += ", no cookie received"
			}
			if c.SYNRetransmitted {
				s += fmt.Sprintf(", SYN sent again without the option (first RTT sample %s)", round(c.HandshakeRTT))
			}
		case c.SYNData:
			s = "data in the SYN, acknowledged by the SYN-ACK (TCP_INFO)"
		case c.SentInSYN:
			s = "data in the SYN not acknowledged: " + c.Reason.Code()
			if len(c.CookieAfter) > 0 && string(c.CookieAfter) != string(c.CookieSent) {
				s += fmt.Sprintf("; cookie changed %x → %x", c.CookieSent, c.CookieAfter)
			}
		default:
			s = "cookie cached but no data in the SYN: " + c.Reason.Code()
		}
		if c.FirstByte > 0 {
			s += fmt.Sprintf("; answer after %s", round(c.FirstByte))
		} else if c.Err != "" && !c.Failed {
			s += "; no answer: " + c.Err
		}
		out = append(out, fmt.Sprintf("#%d %s: %s", i+1, c.Kind, s))
	}
	if ev.SYNDrops > 0 {
		out = append(out, fmt.Sprintf("kernel tcp_metrics: fo_syn_drops %d for %s", ev.SYNDrops, res.Address.Addr()))
	}
	if res.Saving != 0 {
		out = append(out, fmt.Sprintf("saving: warm TFO %s vs plain %s = %s (%.2f RTT)", round(res.Warm), round(res.Plain), round(res.Saving), res.SavingRTTs))
	}
	return out
}

func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// lockAddr serialises probes of one address in this process: they share
// the kernel's cookie cache entry, which each flushes.
func lockAddr(a netip.Addr) (unlock func()) {
	addrLocks.mu.Lock()
	l, ok := addrLocks.m[a]
	if !ok {
		l = &addrLock{}
		if addrLocks.m == nil {
			addrLocks.m = map[netip.Addr]*addrLock{}
		}
		addrLocks.m[a] = l
	}
	l.refs++
	addrLocks.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		addrLocks.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(addrLocks.m, a)
		}
		addrLocks.mu.Unlock()
	}
}

type addrLock struct {
	mu   sync.Mutex
	refs int
}

var addrLocks struct {
	mu sync.Mutex
	m  map[netip.Addr]*addrLock
}

// capture is a running capture of the probe's packets.
type capture interface {
	// stop ends it and returns what it shows, and notes for the evidence.
	stop() (*CaptureEvidence, []string, error)
}
