package probe_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/probe"
	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

const testRTT = 20 * time.Millisecond

// run probes target from the lab's client host.
func run(t *testing.T, l *lab.Lab, p probe.Prober, target string) *probe.Report {
	t.Helper()
	p.Run = l.Client.Run
	if p.Count == 0 {
		p.Count = 3
	}
	if p.Timeout == 0 {
		p.Timeout = 3 * time.Second
	}
	r, err := p.Probe(context.Background(), target)
	if err != nil {
		t.Fatalf("probe %s: %v", target, err)
	}
	return r
}

// check fails the test when the single address of r has not verdict want,
// showing the evidence.
func check(t *testing.T, name string, r *probe.Report, want probe.Verdict) {
	t.Helper()
	if len(r.Addresses) != 1 {
		t.Fatalf("%s: %d addresses, want 1", name, len(r.Addresses))
	}
	a := r.Addresses[0]
	if a.Verdict != want || r.Overall != want {
		t.Errorf("%s: verdict %s (overall %s), want %s\n  %s", name, a.Verdict, r.Overall, want, strings.Join(a.Evidence, "\n  "))
		return
	}
	t.Logf("%s: %s (%s)", name, a.Verdict, strings.Join(a.Evidence, "; "))
}

// TestFaults: every lab fault gets the right verdict against `fastopen
// serve`, nginx with fastopen, a server without TFO and a server whose
// cookie changes on every connection.
func TestFaults(t *testing.T) {
	labtest.NeedRoot(t)
	// A middlebox that drops SYNs carrying the TFO option (no CLI
	// spelling: it differs from drop-synack-cookie only in which way the
	// packet is lost).
	dropOption := lab.Rule{Name: "drop-syn-option", Dir: lab.Up, Match: lab.Match{SYN: true, FastOpen: true}, Action: lab.Drop}
	type want map[string]probe.Verdict
	cases := []struct {
		name   string
		faults []lab.Rule
		loss   float64
		trace  bool
		want   want
		goRace bool
	}{
		{"none", nil, 0, false, want{"serve": probe.Works, "nginx": probe.Works, "notfo": probe.NoCookie, "keys": probe.CookieChanges}, false},
		{"drop-syn-data", rules(t, "drop-syn-data"), 0, false, want{"serve": probe.SYNDataDropped, "nginx": probe.SYNDataDropped, "notfo": probe.NoCookie, "keys": probe.SYNDataDropped}, false},
		{"strip-tfo", rules(t, "strip-tfo"), 0, true, want{"serve": probe.NoCookie, "nginx": probe.NoCookie, "notfo": probe.NoCookie, "keys": probe.NoCookie}, false},
		{"strip-tfo-syn", rules(t, "strip-tfo-syn"), 0, false, want{"serve": probe.NoCookie, "nginx": probe.NoCookie, "notfo": probe.NoCookie, "keys": probe.NoCookie}, false},
		{"strip-tfo-synack", rules(t, "strip-tfo-synack"), 0, true, want{"serve": probe.OptionStripped, "nginx": probe.OptionStripped, "notfo": probe.NoCookie, "keys": probe.OptionStripped}, false},
		{"strip-tfo-synack-untraced", rules(t, "strip-tfo-synack"), 0, false, want{"serve": probe.NoCookie, "notfo": probe.NoCookie}, false},
		{"drop-synack-cookie", rules(t, "drop-synack-cookie"), 0, true, want{"serve": probe.SYNACKCookieDropped, "nginx": probe.SYNACKCookieDropped, "notfo": probe.NoCookie, "keys": probe.SYNACKCookieDropped}, true},
		// Without a capture the kernel's first RTT sample tells, when the
		// SYN-ACK that got through carries timestamps: nginx's and the
		// fastopen listeners' (plain TCP, not MPTCP) do.
		{"drop-synack-cookie-untraced", rules(t, "drop-synack-cookie"), 0, false, want{"serve": probe.SYNACKCookieDropped, "nginx": probe.SYNACKCookieDropped}, false},
		{"drop-syn-option", []lab.Rule{dropOption}, 0, false, want{"serve": probe.SYNOptionDropped}, false},
		{"drop-syn-option-traced", []lab.Rule{dropOption}, 0, true, want{"notfo": probe.SYNOptionDropped}, false},
		{"blackhole", rules(t, "blackhole:0"), 0, false, want{"serve": probe.Unreachable, "nginx": probe.Unreachable, "notfo": probe.Unreachable, "keys": probe.Unreachable}, false},
		{"loss", nil, 0.05, false, want{"serve": probe.Works, "nginx": probe.Works, "notfo": probe.NoCookie, "keys": probe.CookieChanges}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := lab.Config{RTT: testRTT, Faults: c.faults, Seed: 7}
			cfg.Up.Loss, cfg.Down.Loss = c.loss, c.loss
			l := labtest.Lab(t, cfg)
			srv := servers(t, l)
			timeout := 3 * time.Second
			if strings.HasPrefix(c.name, "blackhole") {
				timeout = 300 * time.Millisecond
			}
			for _, name := range []string{"serve", "nginx", "notfo", "keys"} {
				w, ok := c.want[name]
				if !ok {
					continue
				}
				as := probe.Raw
				if name == "nginx" {
					as = probe.HTTP
				}
				before := labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenPassive"]
				r := run(t, l, probe.Prober{As: as, Trace: c.trace, Timeout: timeout}, srv[name].String())
				if c.goRace && name != "nginx" && r.Overall == probe.CookieRequestLost {
					// Whether the client sees one SYN-ACK or two depends
					// on a race between the server's SYN-ACK timer and the
					// client's retransmitted SYN (both fire 1 s after the
					// first SYN): then the probe says honestly that it
					// cannot tell which way it was lost.
					w = probe.CookieRequestLost
				}
				check(t, name, r, w)
				a := r.Addresses[0]
				accepted := labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenPassive"] - before
				synData := 0
				for _, cn := range a.Conns {
					if cn.SYNData {
						synData++
					}
				}
				// The client's TCP_INFO and the server's counter agree on
				// how many connections carried data in the SYN.
				if uint64(synData) != accepted {
					t.Errorf("%s: %d connections report SYN data acked, the server accepted %d", name, synData, accepted)
				}
				if w == probe.Works {
					checkSaving(t, name, a)
				}
				if c.trace && !a.Captured && w != probe.Unreachable {
					t.Errorf("%s: no capture although asked for: %v", name, a.Evidence)
				}
			}
			if c.loss > 0 {
				if s := l.Stats(); s.Up.Lost+s.Down.Lost == 0 {
					t.Errorf("the link lost no packet at %.0f%% loss: the case tests nothing", c.loss*100)
				}
			}
		})
	}
}

// checkSaving checks that the warm TFO connections answered after one
// round trip and the plain ones after two: the fastest of each, since
// load on the machine can only add time.
func checkSaving(t *testing.T, name string, a *probe.Address) {
	t.Helper()
	var warm, plain time.Duration
	for _, c := range a.Conns {
		switch {
		case c.Kind == "warm" && c.SYNData && (warm == 0 || c.FirstByte < warm):
			warm = c.FirstByte
		case c.Kind == "plain" && (plain == 0 || c.FirstByte < plain):
			plain = c.FirstByte
		}
	}
	if warm < testRTT || warm > testRTT*3/2 || plain < 2*testRTT || a.Saving <= 0 {
		t.Errorf("%s: fastest warm TFO answer %v, fastest plain %v, saving %v (%.2f RTT): want 1 RTT and 2 RTT (RTT %v)", name, warm, plain, a.Saving, a.SavingRTTs, testRTT)
	}
}

// rules parses a fault as `fastopen lab up --fault` does.
func rules(t *testing.T, s string) []lab.Rule {
	r, err := lab.ParseFault(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFirstFlights: each kind of first flight against a real peer rides
// in the SYN and is answered: HTTP HEAD against nginx, a ClientHello
// against a Go TLS server, a DNS query over TCP against knotd; and a name
// with two addresses, one of which does not offer TFO, reports both.
func TestFirstFlights(t *testing.T) {
	labtest.NeedRoot(t)
	l := labtest.Lab(t, lab.Config{RTT: testRTT})
	srv4, srv6 := l.ServerAddr(false), l.ServerAddr(true)
	nginx := serveNginx(t, l, netip.AddrPortFrom(srv4, portNginx))
	tlsAddr := serveTLS(t, l, netip.AddrPortFrom(srv4, portTLS))
	dnsAddr := serveKnot(t, l, netip.AddrPortFrom(srv4, portDNS), "probe.test")
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host != "probe.test" {
			t.Errorf("resolve %q, want probe.test", host)
		}
		return []netip.Addr{srv4, srv6}, nil
	}
	for _, c := range []struct {
		as     probe.Kind
		target string
	}{
		{probe.HTTP, nginx.String()},
		{probe.TLS, "probe.test:8443"},
		{probe.DNS, "probe.test:5353"},
	} {
		p := probe.Prober{As: c.as}
		if c.as != probe.HTTP {
			// Only the IPv4 address serves TLS and DNS.
			p.Resolve = func(context.Context, string) ([]netip.Addr, error) { return []netip.Addr{srv4}, nil }
		}
		before := labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenPassive"]
		r := run(t, l, p, c.target)
		check(t, string(c.as), r, probe.Works)
		// The server (nginx, Go's TLS server, knotd) took the first
		// flight from the SYN on every warm connection.
		if n := labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenPassive"] - before; n != 3 {
			t.Errorf("%s: the server accepted %d connections with SYN data, want 3 (the warm ones)", c.as, n)
		}
		checkSaving(t, string(c.as), r.Addresses[0])
		for _, cn := range r.Addresses[0].Conns {
			if cn.Err != "" {
				t.Errorf("%s: connection %s: %s", c.as, cn.Kind, cn.Err)
			}
		}
	}
	_, _ = tlsAddr, dnsAddr

	// The Prometheus endpoint, as the blackbox exporter is scraped.
	h := probe.NewHandler(probe.Prober{Run: l.Client.Run}, 1, 10*time.Second)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/probe?target="+nginx.String()+"&as=http", nil))
	body := w.Body.String()
	for _, m := range []string{
		"fastopen_probe_success 1",
		`fastopen_probe_verdict{address="` + nginx.String() + `",category="works",verdict="works"} 1`,
		`fastopen_probe_overall{category="works",verdict="works"} 1`,
		`fastopen_probe_first_byte_seconds{address="` + nginx.String() + `",kind="warm"}`,
	} {
		if !strings.Contains(body, m) {
			t.Errorf("/probe answer lacks %q:\n%s", m, body)
		}
	}
	if !regexp.MustCompile(`fastopen_probe_saving_seconds\{address="[^"]+"\} 0\.0[0-9]*[1-9]`).MatchString(body) {
		t.Errorf("/probe: no positive saving:\n%s", body)
	}
	// With one probe running, a second is refused, not queued.
	entered, release := make(chan struct{}), make(chan struct{})
	busy := probe.NewHandler(probe.Prober{Count: 1, Run: func(fn func() error) error {
		close(entered)
		<-release
		return l.Client.Run(fn)
	}}, 1, 10*time.Second)
	first := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		busy.ServeHTTP(w, httptest.NewRequest("GET", "/probe?target="+nginx.String(), nil))
		first <- w.Code
	}()
	<-entered
	w = httptest.NewRecorder()
	busy.ServeHTTP(w, httptest.NewRequest("GET", "/probe?target="+nginx.String(), nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("second concurrent probe: status %d, want 503", w.Code)
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first probe: status %d", code)
	}

	// A name with two addresses: IPv4 with `fastopen serve`, IPv6 with
	// a server without TFO. Both are reported; overall, TFO does not
	// work for this name.
	serveEcho(t, l, nil, netip.AddrPortFrom(srv4, 9000), nil)
	serveEcho(t, l, &fastopen.ListenConfig{Disable: true}, netip.AddrPortFrom(srv6, 9000), nil)
	r := run(t, l, probe.Prober{Resolve: resolve}, "probe.test:9000")
	if len(r.Addresses) != 2 {
		t.Fatalf("%d addresses, want 2", len(r.Addresses))
	}
	if a := r.Addresses[0]; a.Address.Addr() != srv4 || a.Verdict != probe.Works {
		t.Errorf("first address %s: %s, want %s works: %v", a.Address, a.Verdict, srv4, a.Evidence)
	}
	if a := r.Addresses[1]; a.Address.Addr() != srv6 || a.Verdict != probe.NoCookie {
		t.Errorf("second address %s: %s, want %s no_cookie: %v", a.Address, a.Verdict, srv6, a.Evidence)
	}
	if r.Overall != probe.NoCookie || r.Category != probe.CategoryServer {
		t.Errorf("overall %s (%s), want no_cookie (server)", r.Overall, r.Category)
	}
}

// TestBlackholePause: after the kernel's own blackhole detection fired
// (a TFO connection whose later data vanished), client TFO is paused and
// the probe says so, as a local matter; with client TFO off it says that.
func TestBlackholePause(t *testing.T) {
	labtest.NeedRoot(t)
	const sinkPort = 9200
	// The first client segment with data to the sink (the SYN with data)
	// passes; everything with data after it vanishes.
	sink := lab.Rule{Name: "sink", Dir: lab.Up, Match: lab.Match{Port: sinkPort, Payload: true}, Action: lab.Blackhole, After: 1}
	l := labtest.Lab(t, lab.Config{RTT: testRTT, Faults: []lab.Rule{sink}})
	srv := l.ServerAddr(false)
	echoAddr := serveEcho(t, l, nil, netip.AddrPortFrom(srv, portEcho), nil)
	sinkLn := labtest.Listen(t, l.Server, &fastopen.ListenConfig{}, "tcp", netip.AddrPortFrom(srv, sinkPort).String())
	labtest.Serve(sinkLn, func(c net.Conn) { io.Copy(io.Discard, c) })
	if err := l.Client.SetSysctl(sysctl.BlackholeTimeout, "3600"); err != nil {
		t.Fatal(err)
	}
	check(t, "before", run(t, l, probe.Prober{}, echoAddr.String()), probe.Works)

	// The cookie is cached now: this connection's data rides in the SYN,
	// then its second write is lost until the user timeout ends it.
	d := &fastopen.Dialer{Dialer: net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 100)
		})
		return errors.Join(err, serr)
	}}}
	c := labtest.Dial(t, l.Client, d, "tcp", netip.AddrPortFrom(srv, sinkPort).String())
	if _, err := c.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("read after the sink: %v, want the user timeout (ETIMEDOUT)", err)
	}
	if n := labtest.Counters(t, l.Client)["TcpExt.TCPFastOpenBlackhole"]; n != 1 {
		t.Fatalf("TCPFastOpenBlackhole = %d, want 1: the kernel did not pause client TFO", n)
	}
	r := run(t, l, probe.Prober{}, echoAddr.String())
	check(t, "paused", r, probe.BlackholePause)
	if r.Category != probe.CategoryLocal {
		t.Errorf("category %s, want local", r.Category)
	}

	if err := l.Client.SetSysctl(sysctl.FastOpen, "0"); err != nil {
		t.Fatal(err)
	}
	check(t, "client off", run(t, l, probe.Prober{}, echoAddr.String()), probe.ClientOff)
}
