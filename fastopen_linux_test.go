package fastopen_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/sysctl"
)

// echoServer listens with lc inside h and echoes what each connection
// sends until EOF; the Info of every accepted connection (taken after the
// first read) goes to the returned channel.
func echoServer(t *testing.T, h *lab.Host, lc *fastopen.ListenConfig, network, addr string) (string, <-chan fastopen.Info) {
	t.Helper()
	ln := labtest.Listen(t, h, lc, network, addr)
	infos := make(chan fastopen.Info, 64)
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		first := true
		for {
			n, err := c.Read(buf)
			if first {
				first = false
				inf, ierr := fastopen.InfoOf(c)
				if ierr != nil {
					t.Errorf("server InfoOf: %v", ierr)
				}
				infos <- inf
			}
			if n > 0 {
				c.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
	return ln.Addr().String(), infos
}

// exchange dials inside h, writes msg, reads the echo and returns the
// client's Info.
func exchange(t *testing.T, h *lab.Host, d *fastopen.Dialer, network, addr, msg string) fastopen.Info {
	t.Helper()
	c := labtest.Dial(t, h, d, network, addr)
	defer c.Close() // at return, not when the test ends: callers exchange in loops
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
	inf, err := fastopen.InfoOf(c)
	if err != nil {
		t.Fatalf("InfoOf: %v", err)
	}
	return inf
}

// dialErr dials addr (tcp4) inside h with d and returns the dial's error,
// closing the connection it may have made.
func dialErr(h *lab.Host, d *fastopen.Dialer, addr string) error {
	return h.Run(func() error {
		c, err := d.DialContext(context.Background(), "tcp4", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
}

func recv(t *testing.T, ch <-chan fastopen.Info) fastopen.Info {
	t.Helper()
	select {
	case inf := <-ch:
		return inf
	case <-time.After(5 * time.Second):
		t.Fatal("server saw no connection")
	}
	return fastopen.Info{}
}

// TestColdThenWarm is the walkthrough: the first connection asks for a
// cookie, the second carries its data in the SYN, proven by TCP_INFO on
// both ends and by the namespace's TFO counters.
func TestColdThenWarm(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}} {
		t.Run(tc.network, func(t *testing.T) {
			h := labtest.Host(t, "core", 3)
			addr, infos := echoServer(t, h, &fastopen.ListenConfig{QueueLen: 5}, tc.network, tc.addr)
			var d fastopen.Dialer
			before := labtest.Counters(t, h)

			cold := exchange(t, h, &d, tc.network, addr, "hello!")
			scold := recv(t, infos)
			if cold.SYNData || cold.SentInSYN || cold.HadCookie || cold.Reason != fastopen.ReasonNoCookie || !cold.Requested {
				t.Errorf("cold client info = %+v, want no SYN data with reason no_cookie", cold)
			}
			if scold.SYNData || scold.Reason != fastopen.ReasonNotInSYN {
				t.Errorf("cold server info = %+v, want not in SYN", scold)
			}

			warm := exchange(t, h, &d, tc.network, addr, "hello!")
			swarm := recv(t, infos)
			if !warm.SYNData || !warm.SentInSYN || !warm.HadCookie || warm.Reason != fastopen.ReasonNone {
				t.Errorf("warm client info = %+v, want data acked in SYN", warm)
			}
			if !swarm.SYNData || swarm.SYNBytes != len("hello!") || swarm.Side != fastopen.SideServer {
				t.Errorf("warm server info = %+v, want SYN data of 6 bytes", swarm)
			}
			if warm.RTT <= 0 {
				t.Errorf("warm RTT = %v, want > 0", warm.RTT)
			}
			d2 := labtest.Counters(t, h).Sub(before)
			if d2["TcpExt.TCPFastOpenActive"] != 1 || d2["TcpExt.TCPFastOpenPassive"] != 1 || d2["TcpExt.TCPFastOpenCookieReqd"] != 1 {
				t.Errorf("counter deltas Active=%d Passive=%d CookieReqd=%d, want 1 each",
					d2["TcpExt.TCPFastOpenActive"], d2["TcpExt.TCPFastOpenPassive"], d2["TcpExt.TCPFastOpenCookieReqd"])
			}
		})
	}
}

// TestServerWithoutTFO: a server that does not offer TFO still gets the
// data (nothing lost) and the client says why TFO did not happen: first no
// cookie, then, with a cookie from an earlier TFO server on the same IP,
// data not acknowledged.
func TestServerWithoutTFO(t *testing.T) {
	h := labtest.Host(t, "core", 3)
	var d fastopen.Dialer
	addr, _ := echoServer(t, h, &fastopen.ListenConfig{Disable: true}, "tcp4", "127.0.0.1:0")
	for i := 0; i < 2; i++ {
		if inf := exchange(t, h, &d, "tcp4", addr, "plain"); inf.SYNData || inf.Reason != fastopen.ReasonNoCookie {
			t.Fatalf("run %d against a non-TFO server: info %+v, want reason no_cookie", i, inf)
		}
	}
	// Get a cookie for 127.0.0.1 from a TFO server, then talk to the plain
	// server again: the SYN carries data the server ignores.
	tfoAddr, _ := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	exchange(t, h, &d, "tcp4", tfoAddr, "cookie please")
	before := labtest.Counters(t, h)
	inf := exchange(t, h, &d, "tcp4", addr, "data the server must still get")
	if inf.SYNData || !inf.SentInSYN || inf.Reason != fastopen.ReasonDataNotAcked {
		t.Fatalf("cookie but server TFO off: info %+v, want sent in SYN, reason data_not_acked", inf)
	}
	if got := labtest.Counters(t, h).Sub(before)["TcpExt.TCPFastOpenActiveFail"]; got != 1 {
		t.Errorf("TCPFastOpenActiveFail delta = %d, want 1", got)
	}
}

// TestKernelClientOff: with the client bit off dials still work, plain, and
// Info says why; Require turns that into an error.
func TestKernelClientOff(t *testing.T) {
	h := labtest.Host(t, "core", int(sysctl.ModeServer))
	addr, _ := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	var d fastopen.Dialer
	if inf := exchange(t, h, &d, "tcp4", addr, "x"); inf.Requested || inf.Reason != fastopen.ReasonKernelOff {
		t.Fatalf("client bit off: info %+v, want reason kernel_off", inf)
	}
	req := fastopen.Dialer{Require: true}
	err := h.Run(func() error {
		c, err := req.DialContext(context.Background(), "tcp4", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	var fe *fastopen.Error
	if !errors.Is(err, fastopen.ErrNotUsed) || !errors.As(err, &fe) || fe.Reason != fastopen.ReasonKernelOff {
		t.Fatalf("Require with client bit off: err = %v, want ErrNotUsed with reason kernel_off", err)
	}
}

// TestListenerKernelOff: the server bit off is reported by the listener and
// by accepted connections; Require refuses to listen.
func TestListenerKernelOff(t *testing.T) {
	h := labtest.Host(t, "core", int(sysctl.ModeClient))
	ln := labtest.Listen(t, h, nil, "tcp", "127.0.0.1:0")
	if ok, why := ln.(*fastopen.Listener).FastOpen(); ok || why != fastopen.ReasonKernelOff {
		t.Fatalf("FastOpen() = %v, %v; want false, kernel_off", ok, why)
	}
	err := h.Run(func() error {
		_, err := (&fastopen.ListenConfig{Require: true}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		return err
	})
	if !errors.Is(err, fastopen.ErrNotUsed) {
		t.Fatalf("Require with server bit off: err = %v, want ErrNotUsed", err)
	}
}

// TestRequireNoCookie: Require refuses a dial that could not put data in
// the SYN because no cookie is cached, and accepts the next one.
func TestRequireNoCookie(t *testing.T) {
	h := labtest.Host(t, "core", 3)
	addr, _ := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	d := fastopen.Dialer{Require: true}
	err := h.Run(func() error {
		c, err := d.DialContext(context.Background(), "tcp4", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	var fe *fastopen.Error
	if !errors.As(err, &fe) || fe.Reason != fastopen.ReasonNoCookie {
		t.Fatalf("first Require dial: err = %v, want reason no_cookie", err)
	}
	// The refused dial still fetched the cookie: the next dial qualifies.
	if inf := exchange(t, h, &d, "tcp4", addr, "now"); !inf.SYNData {
		t.Fatalf("second Require dial: info %+v, want SYN data", inf)
	}
}

// warmHost returns a host whose cookie cache holds a cookie for 127.0.0.1
// and the address of a TFO echo server there.
func warmHost(t *testing.T) (*lab.Host, string, <-chan fastopen.Info) {
	h := labtest.Host(t, "core", 3)
	addr, infos := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	var d fastopen.Dialer
	exchange(t, h, &d, "tcp4", addr, "warm-up")
	recv(t, infos)
	return h, addr, infos
}

// TestDialData: the eager dial returns with the handshake done and the
// data acknowledged in the SYN, and reports refusal at dial time.
func TestDialData(t *testing.T) {
	h, addr, infos := warmHost(t)
	var d fastopen.Dialer
	var c *fastopen.Conn
	labtest.Run(t, h, func() (err error) {
		c, err = d.DialData(context.Background(), "tcp4", addr, []byte("eager"))
		return err
	})
	defer c.Close()
	inf, err := c.Info()
	if err != nil || !inf.SYNData || inf.State != "ESTABLISHED" {
		t.Fatalf("DialData info = %+v, %v; want established with SYN data", inf, err)
	}
	if s := recv(t, infos); !s.SYNData || s.SYNBytes != len("eager") {
		t.Fatalf("server info = %+v, want 5 bytes in SYN", s)
	}
	buf := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "eager" {
		t.Fatalf("echo = %q, %v", buf, err)
	}

	// A closed port on the same IP: the cookie makes the lazy dial return
	// at once, the eager one reports the refusal.
	var free int
	labtest.Run(t, h, func() error {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		free = l.Addr().(*net.TCPAddr).Port
		return l.Close()
	})
	closed := net.JoinHostPort("127.0.0.1", itoa(free))
	err = h.Run(func() error {
		c, err := d.DialData(context.Background(), "tcp4", closed, []byte("x"))
		if err == nil {
			c.Close()
		}
		return err
	})
	var op *net.OpError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("DialData to a closed port: err = %v, want a dial *net.OpError with ECONNREFUSED", err)
	}
	lazy := labtest.Dial(t, h, &d, "tcp4", closed)
	lazy.Write([]byte("x"))
	lazy.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := lazy.Read(buf); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("lazy dial to a closed port: read err = %v, want ECONNREFUSED", err)
	}
}

// TestCookieGoneBeforeFirstWrite: when the cookie cached at dial time is
// gone by the first Write (flushed here; evicted or blackhole-disabled in
// the wild), the kernel sends a SYN without data and refuses the write
// with EINPROGRESS. The Write must still deliver everything, and Info
// must not claim the data rode in the SYN.
func TestCookieGoneBeforeFirstWrite(t *testing.T) {
	h, addr, infos := warmHost(t)
	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	if inf := clientInfo(t, c); !inf.HadCookie || inf.State != "SYN_SENT" {
		t.Fatalf("before the write: %+v, want a deferred SYN", inf)
	}
	labtest.Run(t, h, func() error { return cookie.Flush(netip.Addr{}) })
	before := labtest.Counters(t, h)
	const msg = "written after the cookie was flushed"
	echoOn(t, c, msg)
	inf := clientInfo(t, c)
	if inf.SYNData || inf.SentInSYN || inf.Reason != fastopen.ReasonNoCookie || inf.SYNSentBytes != 0 || inf.FirstWriteBytes != len(msg) {
		t.Fatalf("info %+v, want not sent in the SYN (0 of %d B), reason no_cookie", inf, len(msg))
	}
	if s := recv(t, infos); s.SYNData {
		t.Fatalf("server: %+v, want no SYN data", s)
	}
	delta := labtest.Counters(t, h).Sub(before)
	if delta["TcpExt.TCPFastOpenActive"] != 0 || delta["TcpExt.TCPFastOpenCookieReqd"] != 1 {
		t.Fatalf("counter deltas Active=%d CookieReqd=%d, want 0 and 1 (a SYN asking for a cookie)",
			delta["TcpExt.TCPFastOpenActive"], delta["TcpExt.TCPFastOpenCookieReqd"])
	}
}

// TestSYNDataDropped: a middlebox drops SYNs that carry data. The kernel
// retransmits the SYN without data after its timeout and sends the data
// after the handshake: nothing is lost, and Info gives the kernel's
// reason, syn_retransmitted.
func TestSYNDataDropped(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	addr, infos := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(l.ServerAddr(false), 8000).String())
	var d fastopen.Dialer
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "cookie please"); inf.Reason != fastopen.ReasonNoCookie {
		t.Fatalf("cold: %+v, want reason no_cookie", inf)
	}
	recv(t, infos)
	const msg = "dropped with the SYN, delivered after"
	inf := exchange(t, l.Client, &d, "tcp4", addr, msg)
	if inf.SYNData || !inf.SentInSYN || inf.SYNSentBytes != len(msg) || inf.FirstWriteFit || inf.Reason != fastopen.ReasonSYNRetransmitted {
		t.Fatalf("SYN data dropped: %+v, want sent in the SYN, not acked, reason syn_retransmitted", inf)
	}
	if s := recv(t, infos); s.SYNData {
		t.Fatalf("server: %+v, want no SYN data", s)
	}
	if hits := l.Stats().Rules[0].Hits; hits != 1 {
		t.Fatalf("the drop rule matched %d packets, want the one SYN with data", hits)
	}
}

// TestBlackholePause: once the kernel suspects a middlebox blackhole (a
// SYN with data unanswered three times) it pauses client TFO: later SYNs
// carry neither data nor a cookie request, although the cookie is still
// cached. Info must not call that "no cookie yet" (what the SYN asked
// for on first contact): the kernel recorded no reason, so it is
// ReasonUnknown, whose text points to `fastopen check`.
func TestBlackholePause(t *testing.T) {
	labtest.NeedRoot(t)
	if !fastopen.KernelReportsClientFail {
		t.Skip("the kernel predates tcpi_fastopen_client_fail (Linux 5.5)")
	}
	const blackPort = 9
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropPort(blackPort)}})
	// Off by default since Linux 5.14; an hour, in the client namespace.
	if err := l.Client.SetSysctl(sysctl.BlackholeTimeout, "3600"); err != nil {
		t.Fatal(err)
	}
	ip := l.ServerAddr(false)
	addr, _ := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(ip, 8000).String())
	var d fastopen.Dialer
	exchange(t, l.Client, &d, "tcp4", addr, "cookie please")
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "warm"); !inf.SYNData {
		t.Fatalf("warm exchange: %+v, want SYN data", inf)
	}
	lost := labtest.Dial(t, l.Client, &d, "tcp4", netip.AddrPortFrom(ip, blackPort).String())
	if _, err := lost.Write([]byte("into the void")); err != nil {
		t.Fatal(err)
	}
	// The third SYN timeout comes after about 3 s (RTOs of 1 s).
	deadline := time.Now().Add(8 * time.Second)
	for labtest.Counters(t, l.Client)["TcpExt.TCPFastOpenBlackhole"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the kernel did not pause client TFO (TcpExt.TCPFastOpenBlackhole stayed 0)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	lost.Close()
	before := labtest.Counters(t, l.Client)
	inf := exchange(t, l.Client, &d, "tcp4", addr, "paused")
	delta := labtest.Counters(t, l.Client).Sub(before)
	if delta["TcpExt.TCPFastOpenActive"] != 0 || delta["TcpExt.TCPFastOpenCookieReqd"] != 0 {
		t.Fatalf("while paused: counter deltas Active=%d CookieReqd=%d, want 0 (a SYN without TFO)",
			delta["TcpExt.TCPFastOpenActive"], delta["TcpExt.TCPFastOpenCookieReqd"])
	}
	if inf.SYNData || inf.Reason != fastopen.ReasonUnknown {
		t.Fatalf("while paused: info %+v, want reason unknown (not no_cookie: a cookie is cached and none was asked for)", inf)
	}
	err := dialErr(l.Client, &fastopen.Dialer{Require: true}, addr)
	var fe *fastopen.Error
	if !errors.As(err, &fe) || fe.Reason != fastopen.ReasonUnknown {
		t.Fatalf("Require while paused: err = %v, want ErrNotUsed with reason unknown", err)
	}
}

// TestReadBeforeWrite: a server that speaks first (a banner) works with a
// lazy connection whose SYN was deferred: the Read starts the handshake.
func TestReadBeforeWrite(t *testing.T) {
	h, addr := bannerHost(t, "220 banner\r\n")
	d := fastopen.Dialer{FirstWriteWait: 5 * time.Millisecond}
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	if inf, _ := fastopen.InfoOf(c); !inf.HadCookie || inf.Reason != fastopen.ReasonPending {
		t.Fatalf("before any I/O: info %+v, want a deferred SYN (had cookie, pending)", inf)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "220 banner\r\n" {
		t.Fatalf("read banner: %q, %v", buf[:n], err)
	}
	if inf, _ := fastopen.InfoOf(c); inf.SYNData || inf.Reason != fastopen.ReasonNoData {
		t.Fatalf("after banner: info %+v, want reason no_data", inf)
	}
}

// TestDeadlineBeforeWrite: deadlines set before the first Write are
// accepted and honoured.
func TestDeadlineBeforeWrite(t *testing.T) {
	h, _, _ := warmHost(t)
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	labtest.Serve(ln, func(c net.Conn) { io.Copy(io.Discard, c) }) // never answers
	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", ln.Addr().String())
	if err := c.SetDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatalf("SetDeadline before first write: %v", err)
	}
	if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatalf("SetReadDeadline before first write: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read err = %v, want deadline exceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read ignored the deadline set before the first write")
	}
}

// TestCloseBeforeWrite: closing a deferred connection sends nothing (the
// server never sees it) and leaks no descriptor or goroutine.
func TestCloseBeforeWrite(t *testing.T) {
	h, addr, infos := warmHost(t)
	var d fastopen.Dialer
	fds, gs := openFDs(t), runtime.NumGoroutine()
	before := labtest.Counters(t, h)
	for i := 0; i < 20; i++ {
		c := labtest.Dial(t, h, &d, "tcp4", addr)
		if err := c.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
	select {
	case inf := <-infos:
		t.Fatalf("server accepted a connection that was closed before writing: %+v", inf)
	case <-time.After(200 * time.Millisecond):
	}
	delta := labtest.Counters(t, h).Sub(before)
	if delta["Tcp.ActiveOpens"] != 0 || delta["TcpExt.TCPFastOpenActive"] != 0 {
		t.Errorf("SYNs were sent: ActiveOpens +%d, TCPFastOpenActive +%d", delta["Tcp.ActiveOpens"], delta["TcpExt.TCPFastOpenActive"])
	}
	if after := openFDs(t); after > fds {
		t.Errorf("file descriptors: %d before, %d after", fds, after)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > gs && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > gs {
		t.Errorf("goroutines: %d before, %d after", gs, g)
	}
}

// TestHTTP: net/http over the lazy dialer puts the request in the SYN.
func TestHTTP(t *testing.T) {
	h := labtest.Host(t, "core", 3)
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	type key struct{}
	srv := &http.Server{
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, key{}, c) },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inf, err := fastopen.InfoOf(r.Context().Value(key{}).(net.Conn))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if inf.SYNData {
				io.WriteString(w, "request came in the SYN")
			} else {
				io.WriteString(w, "not in SYN: "+inf.Reason.Code())
			}
		}),
	}
	go srv.Serve(ln)
	defer srv.Close()
	d := fastopen.Dialer{}
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			// The transport dials on its own goroutine: enter the host.
			err = h.Run(func() error { c, err = d.DialContext(ctx, network, addr); return err })
			return c, err
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	get := func() string {
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(); got != "not in SYN: not_in_syn" {
		t.Fatalf("first request: %q", got)
	}
	before := labtest.Counters(t, h)
	for i := 0; i < 3; i++ {
		if got := get(); got != "request came in the SYN" {
			t.Fatalf("warm request %d: %q", i, got)
		}
	}
	if d := labtest.Counters(t, h).Sub(before)["TcpExt.TCPFastOpenPassive"]; d != 3 {
		t.Fatalf("TCPFastOpenPassive delta = %d, want 3", d)
	}
}

// TestLargeFirstWrite: a first write larger than fits in the SYN is
// delivered whole; the SYN carries what fits.
func TestLargeFirstWrite(t *testing.T) {
	h, addr, infos := warmHost(t)
	var d fastopen.Dialer
	msg := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	inf := exchange(t, h, &d, "tcp4", addr, msg)
	if !inf.SYNData {
		t.Fatalf("info %+v, want SYN data", inf)
	}
	// On loopback the rest of the data may already have arrived when the
	// server accepts, so SYNBytes is 0 (not exactly measurable) or the
	// part that fit in the SYN.
	s := recv(t, infos)
	if !s.SYNData || s.SYNBytes >= len(msg) {
		t.Fatalf("server: %+v; want SYN data, less than the whole message", s)
	}
}

func TestUnknownNetwork(t *testing.T) {
	var d fastopen.Dialer
	_, err := d.DialContext(context.Background(), "udp", "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "udp") {
		t.Fatalf("err = %v", err)
	}
	_, err = (&fastopen.ListenConfig{}).Listen(context.Background(), "unix", "/tmp/x")
	if err == nil {
		t.Fatal("listen unix: no error")
	}
	if _, err := fastopen.InfoOf(nil); err == nil {
		t.Fatal("InfoOf(nil): no error")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := fastopen.InfoOf(a); err == nil {
		t.Fatal("InfoOf(pipe): no error")
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func itoa(i int) string { return strconv.Itoa(i) }
