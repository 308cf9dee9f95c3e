package relay_test

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/bench"
	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/relay"
)

// curlTime runs one curl GET in h and returns its time_total.
func curlTime(t *testing.T, h *lab.Host, url string, tfo bool) time.Duration {
	t.Helper()
	curl := labtest.NeedCommand(t, "curl")
	args := []string{"-sS", "--max-time", "5", "-w", "\n%{time_total}"}
	if tfo {
		args = append(args, "--tcp-fastopen")
	}
	out, err := h.Command(curl, append(args, url)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", url, err, out)
	}
	body, secs, _ := strings.Cut(string(out), "\n")
	if body != strings.TrimSuffix(bench.NginxBody, "\n") {
		t.Fatalf("curl %s: body %q, want nginx's %q", url, body, bench.NginxBody)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(secs), 64)
	if err != nil {
		t.Fatalf("curl printed %q", out)
	}
	return time.Duration(f * float64(time.Second))
}

// TestCurlThroughRelays: plain curl → client relay → 40 ms link → server
// relay → nginx without TFO. Direct, even with --tcp-fastopen, every
// request takes 2 RTT (nginx has no TFO). Through the relays the first
// request takes 2 RTT (it fetches the cookie) and warm ones 1 RTT, with
// the request in the SYN of the long leg: the client relay's TCP_INFO
// (Stats.OutSYNData), the server relay's accepted connections
// (Stats.InSYNData) and the server namespace's TCPFastOpenPassive agree.
// With --early wait the server relay holds SYN data until the handshake:
// 2 RTT again. In trusted-link mode (NoCookie on both ends) the very
// first request takes 1 RTT.
func TestCurlThroughRelays(t *testing.T) {
	const rtt = 40 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: rtt})
	nginxAddr := netip.MustParseAddrPort("0.0.0.0:8080")
	labtest.StartNginx(t, l.Server, nginxAddr, func(dir string) string { return bench.NginxConfig(dir, nginxAddr, 0) }) // without TFO: fastopen=0 accepts no SYN data
	server := l.ServerAddr(false).String()
	// Lower bounds are physics; upper bounds leave room for a busy
	// machine (the first connection also starts threads in namespaces)
	// while still telling 1 RTT from 2.
	oneRTT := func(d time.Duration) bool { return d >= rtt && d < rtt*3/2 }
	twoRTT := func(d time.Duration) bool { return d >= 2*rtt && d < 3*rtt }

	for i := range 2 {
		if d := curlTime(t, l.Client, "http://"+server+":8080/", true); !twoRTT(d) {
			t.Fatalf("direct curl --tcp-fastopen #%d: %v, want 2 RTT (nginx without TFO)", i+1, d)
		}
	}

	passive := func() uint64 { return labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenPassive"] }
	p0 := passive()
	caddr, cr, sr := pair(t, l.Client, l.Server, server+":9000", "127.0.0.1:8080", relay.EarlyForward)
	for i := range 3 {
		d := curlTime(t, l.Client, "http://"+caddr+"/", false)
		if i == 0 && !twoRTT(d) || i > 0 && !oneRTT(d) {
			t.Errorf("curl through the relays #%d: %v, want %d RTT of %v", i+1, d, 2-min(i, 1), rtt)
		}
		t.Logf("curl through the relays #%d: %v", i+1, d)
	}
	if err := waitFor(func() bool { return cr.Stats().Active == 0 && sr.Stats().Active == 0 }); err != nil {
		t.Fatal(err)
	}
	if c, s := cr.Stats(), sr.Stats(); c.Dialed != 3 || c.OutSYNData != 2 || s.Accepted != 3 || s.InSYNData != 2 || passive()-p0 != 2 {
		t.Fatalf("want 3 connections, the last 2 with the request in the SYN of the long leg: client relay %+v, server relay %+v, TCPFastOpenPassive +%d", c, s, passive()-p0)
	}

	t.Run("early wait", func(t *testing.T) {
		caddr, cr, sr := pair(t, l.Client, l.Server, server+":9001", "127.0.0.1:8080", relay.EarlyWait)
		d := curlTime(t, l.Client, "http://"+caddr+"/", false) // the cookie for the server's address is cached
		if !twoRTT(d) {
			t.Errorf("curl through relays with --early wait: %v, want 2 RTT", d)
		}
		t.Logf("curl through relays with --early wait: %v", d)
		if err := waitFor(func() bool { return cr.Stats().Active == 0 && sr.Stats().Active == 0 }); err != nil {
			t.Fatal(err)
		}
		if c, s := cr.Stats(), sr.Stats(); c.OutSYNData != 1 || s.InSYNData != 1 || s.Unconfirmed != 0 {
			t.Fatalf("want the request in the SYN, held until the handshake: client relay %+v, server relay %+v", c, s)
		}
	})

	t.Run("trusted link", func(t *testing.T) {
		labtest.Run(t, l.Client, func() error { return cookie.Flush(l.ServerAddr(false)) })
		sr := &relay.Relay{To: "127.0.0.1:8080", Early: relay.EarlyForward, DialData: inHost(l.Server, &fastopen.Dialer{Disable: true})}
		lc := &fastopen.ListenConfig{}
		lc.Control = relay.NoCookie
		saddr := serve(t, l.Server, lc, server+":9002", sr)
		d := &fastopen.Dialer{}
		d.Control = relay.NoCookie
		cr := &relay.Relay{To: saddr, DialData: inHost(l.Client, d)}
		caddr := serve(t, l.Client, &net.ListenConfig{}, "127.0.0.1:0", cr)
		before := labtest.Counters(t, l.Server)
		d0 := curlTime(t, l.Client, "http://"+caddr+"/", false)
		if !oneRTT(d0) {
			t.Errorf("first curl through trusted-link relays: %v, want 1 RTT", d0)
		}
		t.Logf("first curl through trusted-link relays: %v", d0)
		if err := waitFor(func() bool { return cr.Stats().Active == 0 && sr.Stats().Active == 0 }); err != nil {
			t.Fatal(err)
		}
		delta := labtest.Counters(t, l.Server).Sub(before)
		if c, s := cr.Stats(), sr.Stats(); c.OutSYNData != 1 || s.InSYNData != 1 || delta["TcpExt.TCPFastOpenPassive"] != 1 || delta["TcpExt.TCPFastOpenCookieReqd"] != 0 {
			t.Fatalf("want the first request in the SYN without a cookie: client relay %+v, server relay %+v, server counters %v", c, s, delta.FastOpen())
		}
	})
}
