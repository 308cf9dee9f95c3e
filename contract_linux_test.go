package fastopen_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// deadLab returns a lab whose client holds a cookie for the server's
// IPv4 address, and the address of a port there whose packets are
// dropped: a dead host, as far as a dial with a cached cookie can tell.
func deadLab(t *testing.T) (*lab.Lab, string) {
	const blackPort = 9
	l := labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{lab.DropPort(blackPort)}})
	ip := l.ServerAddr(false)
	addr, infos := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(ip, 8000).String())
	var d fastopen.Dialer
	exchange(t, l.Client, &d, "tcp4", addr, "cookie please")
	recv(t, infos)
	return l, netip.AddrPortFrom(ip, blackPort).String()
}

// timed runs fn (bounded by within) and returns its duration and error.
func timed(t *testing.T, what string, fn func() error) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	err := within(t, what, fn)
	return time.Since(start), err
}

// wantDialTimeout fails unless err is what net.Dialer gives for a dial
// that timed out (a *net.OpError with Op "dial" that is a timeout and
// matches context.DeadlineExceeded or os.ErrDeadlineExceeded: net.Dialer
// gives either), and, with lazy, matches both and says that the data
// written was not delivered.
func wantDialTimeout(t *testing.T, what string, err error, lazy bool) {
	t.Helper()
	var op *net.OpError
	var ne net.Error
	ctxDL, osDL := errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded)
	if !errors.As(err, &op) || op.Op != "dial" || !errors.As(err, &ne) || !ne.Timeout() || !(ctxDL || osDL) || lazy && !(ctxDL && osDL) {
		t.Fatalf("%s: err = %v, want a dial *net.OpError that is a timeout", what, err)
	}
	if lazy != errors.Is(err, fastopen.ErrNotDelivered) || lazy && !strings.Contains(err.Error(), "bytes written, none acknowledged") {
		t.Fatalf("%s: err = %v; ErrNotDelivered %v, want %v", what, err, errors.Is(err, fastopen.ErrNotDelivered), lazy)
	}
}

// TestLazyDialTimeout: Dialer.Timeout bounds the handshake of a lazy
// connection as it bounds connect for net.Dialer: to a dead host with a
// cached cookie the first Write fails after Timeout with the kind of
// error net.Dialer gives, saying that the data was not delivered; a Read
// waiting meanwhile gets the same error.
func TestLazyDialTimeout(t *testing.T) {
	l, dead := deadLab(t)
	const timeout = 300 * time.Millisecond
	const margin = 200 * time.Millisecond

	plain := net.Dialer{Timeout: timeout}
	took, err := timed(t, "net.Dialer", func() error {
		return l.Client.Run(func() error {
			c, err := plain.Dial("tcp4", dead)
			if err == nil {
				c.Close()
			}
			return err
		})
	})
	wantDialTimeout(t, "net.Dialer", err, false)
	t.Logf("net.Dialer: %v after %v", err, took)

	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: timeout}}
	c := labtest.Dial(t, l.Client, &d, "tcp4", dead)
	if inf := clientInfo(t, c); !inf.HadCookie {
		t.Fatalf("lazy dial: %+v, want a deferred SYN", inf)
	}
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		read <- err
	}()
	took, err = timed(t, "first Write to a dead host", func() error {
		_, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		return err
	})
	wantDialTimeout(t, "lazy first Write", err, true)
	if took < timeout-20*time.Millisecond || took > timeout+margin {
		t.Fatalf("lazy first Write failed after %v, want about Timeout (%v)", took, timeout)
	}
	t.Logf("fastopen: %v after %v", err, took)
	wantDialTimeout(t, "Read waiting meanwhile", within(t, "Read", func() error { return <-read }), true)
}

// TestLazyDialTimeoutHTTP: the same through net/http: a request to a
// dead host whose cookie is cached fails after Dialer.Timeout with a
// timeout, as it does with a plain net.Dialer, instead of hanging until
// the kernel gives up its SYN retries (about 2 minutes).
func TestLazyDialTimeoutHTTP(t *testing.T) {
	l, dead := deadLab(t)
	const timeout = 300 * time.Millisecond
	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: timeout}}
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = l.Client.Run(func() error { c, err = d.DialContext(ctx, network, addr); return err })
			return c, err
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr} // no client timeout: the dialer's must hold
	took, err := timed(t, "GET from a dead host", func() error {
		resp, err := client.Get("http://" + dead + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	// net/http reports the failed Write of the request, wrapped in its own
	// error types: the dial's *net.OpError is inside.
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || !op.Timeout() || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, fastopen.ErrNotDelivered) {
		t.Fatalf("GET: err = %v, want a dial timeout saying the request was not delivered", err)
	}
	if took > timeout+200*time.Millisecond {
		t.Fatalf("GET failed after %v, want about Timeout (%v)", took, timeout)
	}
	t.Logf("GET: %v after %v", err, took)
}

// fakeDNS is a resolver whose answers are given: every A and AAAA query
// for name gets the addresses of addrs of its family, in that order.
func fakeDNS(name string, addrs ...netip.Addr) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go serveDNS(server, name, addrs)
		return client, nil
	}}
}

// serveDNS answers queries on c (DNS over a stream: length-prefixed).
func serveDNS(c net.Conn, name string, addrs []netip.Addr) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		var m dnsmessage.Message
		if m.Unpack(q) != nil || len(m.Questions) != 1 {
			return
		}
		m.Header.Response, m.Header.Authoritative = true, true
		qq := m.Questions[0]
		if qq.Name.String() != name {
			m.Header.RCode = dnsmessage.RCodeNameError
		} else {
			for _, a := range addrs {
				h := dnsmessage.ResourceHeader{Name: qq.Name, Type: qq.Type, Class: dnsmessage.ClassINET, TTL: 60}
				switch {
				case qq.Type == dnsmessage.TypeA && a.Is4():
					m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}})
				case qq.Type == dnsmessage.TypeAAAA && a.Is6():
					m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
				}
			}
		}
		b, err := m.Pack()
		if err != nil {
			return
		}
		c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b))))
		c.Write(b)
	}
}

// silentLab returns a lab whose server counts the requests it reads on
// port 8000 (every address, both families) and echoes them, and an IPv4
// address, silent, for which the client holds a cookie: the server owned
// it long enough to hand one out, then dropped it, so that its packets
// now reach the server's namespace and vanish. warm lists more
// addresses to fetch cookies for.
func silentLab(t *testing.T, warm ...netip.AddrPort) (l *lab.Lab, silent netip.Addr, count func(req string) int) {
	return silentLabFaults(t, nil, warm...)
}

// silentLabFaults is silentLab with fault rules, off while it fetches
// the cookies and on when it returns.
func silentLabFaults(t *testing.T, faults []lab.Rule, warm ...netip.AddrPort) (l *lab.Lab, silent netip.Addr, count func(req string) int) {
	labtest.NeedCommand(t, "ip")
	l = labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: faults})
	for _, r := range faults {
		if err := l.SetFaultActive(r.Label(), false); err != nil {
			t.Fatal(err)
		}
	}
	silent = netip.MustParseAddr("10.200.0.3")
	run := func(h *lab.Host, args ...string) {
		if out, err := h.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run(l.Server, "addr", "add", silent.String()+"/32", "dev", lab.TunName)
	run(l.Client, "route", "add", silent.String()+"/32", "dev", lab.TunName)
	reads := countingEcho(labtest.Listen(t, l.Server, nil, "tcp", ":8000"))
	var d fastopen.Dialer
	for _, ap := range append([]netip.AddrPort{netip.AddrPortFrom(silent, 8000)}, warm...) {
		c := labtest.Dial(t, l.Client, &d, "tcp", ap.String())
		echoOn(t, c, "cookie please")
		c.Close()
	}
	run(l.Server, "addr", "del", silent.String()+"/32", "dev", lab.TunName)
	for _, r := range faults {
		if err := l.SetFaultActive(r.Label(), true); err != nil {
			t.Fatal(err)
		}
	}
	return l, silent, reads
}

// countingEcho serves ln: it echoes each connection's first read (up to
// 64 bytes) and counts the requests it read. The func it returns tells
// how many times req was read.
func countingEcho(ln net.Listener) func(req string) int {
	var mu sync.Mutex
	got := map[string]int{}
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		mu.Lock()
		got[string(buf[:n])]++
		mu.Unlock()
		c.Write(buf[:n])
	})
	return func(req string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[req]
	}
}

// TestLazyDialFallback: a name with two addresses, the first silent
// (its packets reach the server's namespace, which no longer owns it)
// though a cookie for it is cached. The lazy connection's handshake gives
// the first its share of Timeout, then sends the request again to the
// second address; the server sees it exactly once.
func TestLazyDialFallback(t *testing.T) {
	l, silent, count := silentLab(t, netip.AddrPortFrom(lab.ServerIPv4, 8000))
	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: 4 * time.Second, Resolver: fakeDNS("two.test.", silent, l.ServerAddr(false))}}
	c := labtest.Dial(t, l.Client, &d, "tcp4", "two.test.:8000")
	if inf := clientInfo(t, c); !inf.HadCookie || c.RemoteAddr().String() != netip.AddrPortFrom(silent, 8000).String() {
		t.Fatalf("dial: %+v to %v, want a deferred SYN to the first address", inf, c.RemoteAddr())
	}
	const req = "once and only once"
	took, err := timed(t, "request", func() error {
		if _, err := c.Write([]byte(req)); err != nil {
			return err
		}
		buf := make([]byte, len(req))
		_, err := io.ReadFull(c, buf)
		return err
	})
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	t.Logf("answered by %v after %v", c.RemoteAddr(), took)
	if c.RemoteAddr().String() != netip.AddrPortFrom(l.ServerAddr(false), 8000).String() {
		t.Fatalf("answered by %v, want the second address", c.RemoteAddr())
	}
	if inf := clientInfo(t, c); !inf.SYNData {
		t.Errorf("second address: %+v, want the request in the SYN (its cookie is cached)", inf)
	}
	if took > 2*time.Second+500*time.Millisecond {
		t.Errorf("took %v, want the first address's share of Timeout (2 s) plus a round trip", took)
	}
	if n := count(req); n != 1 {
		t.Fatalf("the server read the request %d times, want exactly once", n)
	}
}

// TestLazyDialHappyEyeballs: a name with an IPv4 address that went silent
// (its cookie still cached) and an IPv6 one. As net.Dialer does across
// families, the lazy handshake starts the IPv6 connection after
// FallbackDelay (300 ms) instead of waiting out the IPv4 one's share of
// Timeout (2 s); the request is delivered once, in the IPv6 SYN.
func TestLazyDialHappyEyeballs(t *testing.T) {
	v6 := netip.AddrPortFrom(lab.ServerIPv6, 8000)
	l, silent, count := silentLab(t, v6)
	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: 4 * time.Second, Resolver: fakeDNS("dual.test.", silent, v6.Addr())}}
	c := labtest.Dial(t, l.Client, &d, "tcp", "dual.test.:8000")
	if c.RemoteAddr().String() != netip.AddrPortFrom(silent, 8000).String() {
		t.Fatalf("dialed %v first, want the IPv4 address (RFC 6724 puts it before a ULA)", c.RemoteAddr())
	}
	const req = "across families"
	took, err := timed(t, "request", func() error {
		if _, err := c.Write([]byte(req)); err != nil {
			return err
		}
		_, err := io.ReadFull(c, make([]byte, len(req)))
		return err
	})
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	t.Logf("answered by %v after %v", c.RemoteAddr(), took)
	if c.RemoteAddr().String() != v6.String() {
		t.Fatalf("answered by %v, want %v", c.RemoteAddr(), v6)
	}
	if took > time.Second {
		t.Errorf("took %v, want about FallbackDelay (300 ms) plus a round trip", took)
	}
	if inf := clientInfo(t, c); !inf.SYNData {
		t.Errorf("IPv6: %+v, want the request in the SYN", inf)
	}
	if n := count(req); n != 1 {
		t.Fatalf("the server read the request %d times, want exactly once", n)
	}
}
