package probe_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/probe"
)

const testRTT = 10 * time.Millisecond

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
	}{
		{"none", nil, 0, false, want{"serve": probe.Works, "nginx": probe.Works, "notfo": probe.NoCookie, "keys": probe.CookieChanges}},
		{"drop-syn-data", rules(t, "drop-syn-data"), 0, false, want{"serve": probe.SYNDataDropped, "nginx": probe.SYNDataDropped, "notfo": probe.NoCookie, "keys": probe.SYNDataDropped}},
		{"strip-tfo", rules(t, "strip-tfo"), 0, true, want{"serve": probe.NoCookie, "nginx": probe.NoCookie, "notfo": probe.NoCookie, "keys": probe.NoCookie}},
		{"strip-tfo-syn", rules(t, "strip-tfo-syn"), 0, false, want{"serve": probe.NoCookie, "nginx": probe.NoCookie, "notfo": probe.NoCookie, "keys": probe.NoCookie}},
		{"strip-tfo-synack", rules(t, "strip-tfo-synack"), 0, true, want{"serve": probe.OptionStripped, "nginx": probe.OptionStripped, "notfo": probe.NoCookie, "keys": probe.OptionStripped}},
		{"strip-tfo-synack-untraced", rules(t, "strip-tfo-synack"), 0, false, want{"serve": probe.NoCookie, "notfo": probe.NoCookie}},
		{"drop-synack-cookie", rules(t, "drop-synack-cookie"), 0, true, want{"serve": probe.SYNACKCookieDropped, "nginx": probe.SYNACKCookieDropped, "notfo": probe.NoCookie, "keys": probe.SYNACKCookieDropped}},
		// Without a capture the kernel's first RTT sample tells, if the
		// SYN-ACK that got through carries timestamps: nginx's does, but
		// the retransmitted SYN-ACK of a Go listener (MPTCP by default
		// since Go 1.24) carries none, so the client cannot tell.
		{"drop-synack-cookie-untraced", rules(t, "drop-synack-cookie"), 0, false, want{"serve": probe.CookieRequestLost, "nginx": probe.SYNACKCookieDropped}},
		{"drop-syn-option", []lab.Rule{dropOption}, 0, false, want{"serve": probe.SYNOptionDropped}},
		{"drop-syn-option-traced", []lab.Rule{dropOption}, 0, true, want{"notfo": probe.SYNOptionDropped}},
		{"blackhole", rules(t, "blackhole:0"), 0, false, want{"serve": probe.Unreachable, "nginx": probe.Unreachable, "notfo": probe.Unreachable, "keys": probe.Unreachable}},
		{"loss", nil, 0.05, false, want{"serve": probe.Works, "nginx": probe.Works, "notfo": probe.NoCookie, "keys": probe.CookieChanges}},
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
					if a.Saving < testRTT/2 || a.SavingRTTs < 0.5 || a.SavingRTTs > 1.5 {
						t.Errorf("%s: saving %v = %.2f RTT (RTT %v), want about one RTT", name, a.Saving, a.SavingRTTs, a.RTT)
					}
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
		r := run(t, l, p, c.target)
		check(t, string(c.as), r, probe.Works)
		for _, cn := range r.Addresses[0].Conns {
			if cn.Err != "" {
				t.Errorf("%s: connection %s: %s", c.as, cn.Kind, cn.Err)
			}
		}
	}
	_, _ = tlsAddr, dnsAddr

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
