package relay_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/relay"
)

// backend listens in h on addr (host:0 picks a port) without TFO and runs
// handle for each connection; it returns the address.
func backend(tb testing.TB, h *lab.Host, addr string, handle func(net.Conn)) string {
	tb.Helper()
	ln := labtest.Listen(tb, h, &net.ListenConfig{}, "tcp4", addr)
	labtest.Serve(ln, handle)
	return ln.Addr().String()
}

// dialLocal connects a plain client to a relay in h.
func dialLocal(t *testing.T, h *lab.Host, addr string) *net.TCPConn {
	t.Helper()
	c := labtest.Dial(t, h, &net.Dialer{}, "tcp4", addr).(*net.TCPConn)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// stream is n bytes of a seeded pseudo-random stream.
func stream(seed uint64, n int64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

// TestLargeTransferHalfClose: 200 MB up, then a half-close, then 200 MB
// down, through two relays on a namespace's loopback. The backend sees
// exactly the client's bytes (SHA-256) and its EOF, and answers after it;
// the client reads exactly the backend's bytes and then EOF.
func TestLargeTransferHalfClose(t *testing.T) {
	const size = 200 << 20
	noLeaks(t)
	h := labtest.Host(t, "relay", 3)
	back := backend(t, h, "127.0.0.1:0", func(c net.Conn) {
		sum := sha256.New()
		if _, err := io.Copy(sum, c); err != nil { // until the client's half-close
			t.Errorf("backend read: %v", err)
			return
		}
		c.Write(sum.Sum(nil))
		io.Copy(c, stream(2, size))
	})
	caddr, cr, sr := pair(t, h, h, "127.0.0.1:0", back, relay.EarlyForward)
	c := dialLocal(t, h, caddr)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	want := sha256.New()
	if _, err := io.Copy(c, io.TeeReader(stream(1, size), want)); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("backend's answer after the half-close: %v", err)
	}
	if !bytes.Equal(got, want.Sum(nil)) {
		t.Fatalf("the backend received other bytes than the client sent")
	}
	down := sha256.New()
	n, err := io.Copy(down, c)
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v; want %d and EOF", n, err, size)
	}
	ref := sha256.New()
	io.Copy(ref, stream(2, size))
	if !bytes.Equal(down.Sum(nil), ref.Sum(nil)) {
		t.Fatal("the client received other bytes than the backend sent")
	}
	t.Logf("%d MB each way in %v", size>>20, time.Since(start))
	c.Close()
	if err := waitFor(func() bool { return cr.Stats().Active == 0 && sr.Stats().Active == 0 }); err != nil {
		t.Fatal(err)
	}
	for _, s := range []relay.Stats{cr.Stats(), sr.Stats()} {
		if s.BytesUp != size || s.BytesDown != size+sha256.Size || s.CopyErrors != 0 {
			t.Fatalf("relay stats %+v: want %d bytes up, %d down, no errors", s, size, size+sha256.Size)
		}
	}
}

// TestServerSpeaksFirst: a client that waits for the server's banner
// (SMTP) gets it: the relays dial without data after their bounded wait
// for a first flight, instead of hanging.
func TestServerSpeaksFirst(t *testing.T) {
	noLeaks(t)
	h := labtest.Host(t, "relay", 3)
	back := backend(t, h, "127.0.0.1:0", func(c net.Conn) {
		c.Write([]byte("220 ready\r\n"))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if string(buf[:n]) == "QUIT\r\n" {
			c.Write([]byte("221 bye\r\n"))
		}
	})
	caddr, cr, _ := pair(t, h, h, "127.0.0.1:0", back, relay.EarlyForward)
	for i := range 2 { // the second has a cookie cached: it must not wait for data either
		c := dialLocal(t, h, caddr)
		start := time.Now()
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil || string(buf[:n]) != "220 ready\r\n" {
			t.Fatalf("banner #%d: %q, %v", i+1, buf[:n], err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("banner #%d took %v: the relays should dial after %v without data", i+1, d, relay.DefaultFirstFlightWait)
		}
		c.Write([]byte("QUIT\r\n"))
		if b, err := io.ReadAll(c); err != nil || string(b) != "221 bye\r\n" {
			t.Fatalf("reply #%d: %q, %v", i+1, b, err)
		}
		c.Close()
	}
	if s := cr.Stats(); s.Dialed != 2 || s.OutSYNData != 0 {
		t.Fatalf("client relay %+v: want 2 dials without SYN data", s)
	}
}

// isReset reports whether err is the RST a relay sends when it cannot
// reach its far end.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// TestBackendDown: the server relay cannot reach its backend; it resets
// the incoming connection, so the client relay resets the local client,
// which sees ECONNRESET (not an empty answer), and nothing stays open.
func TestBackendDown(t *testing.T) {
	noLeaks(t)
	h := labtest.Host(t, "relay", 3)
	down := refusedAddr(t, h)
	caddr, cr, sr := pair(t, h, h, "127.0.0.1:0", down, relay.EarlyForward)
	c := dialLocal(t, h, caddr)
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	if _, err := io.ReadAll(c); !isReset(err) {
		t.Fatalf("client read: %v, want ECONNRESET", err)
	}
	if err := waitFor(func() bool { return cr.Stats().Active == 0 && sr.Stats().Active == 0 }); err != nil {
		t.Fatal(err)
	}
	if s := sr.Stats(); s.DialErrors != 1 || s.Dialed != 0 {
		t.Fatalf("server relay %+v: want one failed dial", s)
	}
	// The server relay's reset reaches the client relay during its copy,
	// or, when it arrives before the dial has read the handshake's
	// outcome (the dial's own check of the socket), as a failed dial.
	if s := cr.Stats(); s.CopyErrors+s.DialErrors != 1 || s.Dialed != 1-s.DialErrors {
		t.Fatalf("client relay %+v: want its far leg reset", s)
	}
}

// TestFarEndDown: the client relay's far end refuses; the local client
// sees ECONNRESET at once.
func TestFarEndDown(t *testing.T) {
	noLeaks(t)
	h := labtest.Host(t, "relay", 3)
	down := refusedAddr(t, h)
	cr := &relay.Relay{To: down, DialData: inHost(h, &fastopen.Dialer{}), Logger: testLogger(t, "client relay")}
	caddr := serve(t, h, &net.ListenConfig{}, "127.0.0.1:0", cr)
	c := dialLocal(t, h, caddr)
	c.Write([]byte("hello"))
	if _, err := io.ReadAll(c); !isReset(err) {
		t.Fatalf("client read: %v, want ECONNRESET", err)
	}
	if err := waitFor(func() bool { return cr.Stats().Active == 0 }); err != nil {
		t.Fatal(err)
	}
	if s := cr.Stats(); s.DialErrors != 1 {
		t.Fatalf("client relay %+v: want one failed dial", s)
	}
}

// TestLimitAndIdle: beyond MaxConns a connection is reset at once; an
// idle connection is closed after IdleTimeout and not before, while one
// that keeps talking stays open.
func TestLimitAndIdle(t *testing.T) {
	const idle = 300 * time.Millisecond
	noLeaks(t)
	h := labtest.Host(t, "relay", 3)
	back := backend(t, h, "127.0.0.1:0", func(c net.Conn) { io.Copy(c, c) })
	r := &relay.Relay{To: back, MaxConns: 2, IdleTimeout: idle, DialData: inHost(h, &fastopen.Dialer{}), Logger: testLogger(t, "relay")}
	addr := serve(t, h, &net.ListenConfig{}, "127.0.0.1:0", r)
	quiet, busy := dialLocal(t, h, addr), dialLocal(t, h, addr)
	for _, c := range []net.Conn{quiet, busy} {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
	}
	// TCP_INFO counts in milliseconds: the cut may come up to a few
	// earlier than idle after the last byte read here.
	start := time.Now()
	// The reset may come before connect returns, or after.
	var third net.Conn
	err := h.Run(func() (err error) { third, err = net.Dial("tcp4", addr); return err })
	if err == nil {
		third.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = third.Read(make([]byte, 1))
		third.Close()
	}
	if !isReset(err) {
		t.Fatalf("third connection over MaxConns=2: %v, want ECONNRESET", err)
	}
	// busy talks every idle/3; quiet says nothing and must be cut.
	var busyErr atomic.Value
	stopBusy := make(chan struct{})
	busyDone := make(chan struct{})
	go func() {
		defer close(busyDone)
		tick := time.NewTicker(idle / 3)
		defer tick.Stop()
		for {
			select {
			case <-stopBusy:
				return
			case <-tick.C:
			}
			if _, err := busy.Write([]byte("x")); err != nil {
				busyErr.Store(err)
				return
			}
			if _, err := io.ReadFull(busy, make([]byte, 1)); err != nil {
				busyErr.Store(err)
				return
			}
		}
	}()
	_, err = quiet.Read(make([]byte, 1))
	cut := time.Since(start)
	if err == nil || cut < idle-10*time.Millisecond || cut > 3*idle {
		t.Fatalf("idle connection: read returned %v after %v, want it closed after %v", err, cut, idle)
	}
	close(stopBusy)
	<-busyDone
	if err, _ := busyErr.Load().(error); err != nil {
		t.Fatalf("the busy connection was closed: %v", err)
	}
	busy.Close()
	if err := waitFor(func() bool { return r.Stats().Active == 0 }); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Rejected != 1 || s.IdleTimeouts != 1 || s.Dialed != 2 {
		t.Fatalf("relay %+v: want 1 rejected, 1 idle timeout, 2 relayed", s)
	}
}

// blackholePort is a server port whose packets the replay lab drops.
const blackholePort = 9199

// TestReplayedSYN: the lab replays the client relay's SYN (with its data)
// 300 ms later. With EarlyForward the server relay passes the replay's
// data to the backend, which receives the request twice; with EarlyWait
// the replay never completes its handshake and the backend receives the
// request once. On the same lab, a far end that never answers (a
// firewall dropping its port) makes the dial time out and the local
// client get a reset.
func TestReplayedSYN(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{lab.DropPort(blackholePort), {
		Name: "replay-syn-data", Dir: lab.Up, Match: lab.Match{SYN: true, Payload: true}, Action: lab.Duplicate, Delay: 300 * time.Millisecond,
	}}})
	var got atomic.Int32
	const order = "transfer 100 to alice\n"
	back := backend(t, l.Server, "127.0.0.1:0", func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if string(buf[:n]) == order {
			got.Add(1)
		}
		c.Write([]byte("ok\n"))
		// The client closes first, so that the server side keeps no
		// TIME_WAIT socket that would swallow the replay.
		io.Copy(io.Discard, c)
	})
	for i, early := range []relay.Early{relay.EarlyForward, relay.EarlyWait} {
		t.Run(early.String(), func(t *testing.T) {
			got.Store(0)
			saddr := netip.AddrPortFrom(l.ServerAddr(false), uint16(9100+i)).String()
			caddr, _, sr := pair(t, l.Client, l.Server, saddr, back, early)
			send := func(msg string) {
				c := dialLocal(t, l.Client, caddr)
				defer c.Close()
				c.Write([]byte(msg))
				b := make([]byte, 3)
				if _, err := io.ReadFull(c, b); err != nil || string(b) != "ok\n" {
					t.Fatalf("reply to %q: %q, %v", msg, b, err)
				}
			}
			if i == 0 {
				send("cookie please\n") // no data in this SYN: nothing replayed
			}
			send(order)
			// The replay arrives 300 ms after the original SYN.
			if err := waitFor(func() bool { s := sr.Stats(); return s.Accepted == uint64(2-i)+1 && s.Active == 0 }); err != nil {
				t.Fatalf("the replayed SYN did not reach the server relay: %+v", sr.Stats())
			}
			s := sr.Stats()
			switch early {
			case relay.EarlyForward:
				if got.Load() != 2 || s.InSYNData != 2 {
					t.Fatalf("forward: backend got the request %d times, server relay %+v; want the replay forwarded (2)", got.Load(), s)
				}
			case relay.EarlyWait:
				if got.Load() != 1 || s.InSYNData != 2 || s.Unconfirmed != 1 {
					t.Fatalf("wait: backend got the request %d times, server relay %+v; want the replay held back (1, 1 unconfirmed)", got.Load(), s)
				}
			}
		})
	}
	t.Run("far end silent", func(t *testing.T) {
		// A firewall drops everything to the far end: the dial times out
		// and the local client is reset, nothing left open.
		noLeaks(t)
		const timeout = 300 * time.Millisecond
		far := netip.AddrPortFrom(l.ServerAddr(false), blackholePort).String()
		cr := &relay.Relay{To: far, DialTimeout: timeout, DialData: inHost(l.Client, &fastopen.Dialer{}), Logger: testLogger(t, "client relay")}
		caddr := serve(t, l.Client, &net.ListenConfig{}, "127.0.0.1:0", cr)
		c := dialLocal(t, l.Client, caddr)
		start := time.Now()
		c.Write([]byte("hello"))
		if _, err := io.ReadAll(c); !isReset(err) || time.Since(start) < timeout {
			t.Fatalf("client read: %v after %v, want ECONNRESET after the %v dial timeout", err, time.Since(start), timeout)
		}
		c.Close()
		if err := waitFor(func() bool { return cr.Stats().Active == 0 }); err != nil {
			t.Fatal(err)
		}
		if s := cr.Stats(); s.DialErrors != 1 || s.Dialed != 0 {
			t.Fatalf("client relay %+v: want one failed dial", s)
		}
	})
}

// TestConfigErrors: a Relay with bad fields refuses to serve and says
// which field is wrong.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		r    *relay.Relay
		want string
	}{
		{&relay.Relay{}, "To is empty"},
		{&relay.Relay{To: "nohostport"}, "want host:port"},
		{&relay.Relay{To: "127.0.0.1:1", Network: "udp"}, "Network"},
		{&relay.Relay{To: "127.0.0.1:1", FirstFlightSize: relay.MaxFirstFlightSize + 1}, "FirstFlightSize"},
		{&relay.Relay{To: "127.0.0.1:1", MaxConns: -1}, "MaxConns"},
		{&relay.Relay{To: "127.0.0.1:1", Early: 7}, "Early"},
		{&relay.Relay{To: "127.0.0.1:1", IdleTimeout: -time.Second}, "negative"},
	} {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		err = tc.r.Serve(ln)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Serve = %v, want an error about %q", err, tc.want)
		}
		if _, aerr := ln.Accept(); aerr == nil {
			t.Errorf("Serve left the listener open")
		}
	}
	if _, err := relay.ParseEarly("later"); err == nil || !strings.Contains(err.Error(), "forward") {
		t.Errorf("ParseEarly(later) = %v", err)
	}
}

// TestShutdown: Shutdown stops accepting at once, lets a relayed
// connection finish its exchange, and returns when it has ended; one
// still open when ctx ends is reset.
func TestShutdown(t *testing.T) {
	noLeaks(t)
	h := labtest.Host(t, "relay", 3)
	back := backend(t, h, "127.0.0.1:0", func(c net.Conn) { io.Copy(c, c) })
	r := &relay.Relay{To: back, DialData: inHost(h, &fastopen.Dialer{}), Logger: testLogger(t, "relay")}
	var ln net.Listener
	labtest.Run(t, h, func() (err error) { ln, err = net.Listen("tcp4", "127.0.0.1:0"); return err })
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	finishing, lingering := dialLocal(t, h, ln.Addr().String()), dialLocal(t, h, ln.Addr().String())
	for _, c := range []net.Conn{finishing, lingering} {
		c.Write([]byte("ping"))
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- r.Shutdown(ctx) }()
	if err := <-served; err != relay.ErrClosed {
		t.Fatalf("Serve after Shutdown: %v, want ErrClosed", err)
	}
	// Still relayed after Serve returned:
	finishing.Write([]byte("pong"))
	b := make([]byte, 4)
	if _, err := io.ReadFull(finishing, b); err != nil || string(b) != "pong" {
		t.Fatalf("a connection stopped being relayed when Shutdown began: %q, %v", b, err)
	}
	finishing.Close()
	if err := <-shut; err != context.DeadlineExceeded {
		t.Fatalf("Shutdown with a connection left open: %v, want context.DeadlineExceeded", err)
	}
	if _, err := lingering.Read(make([]byte, 1)); !isReset(err) {
		t.Fatalf("connection left at the end of the grace period: %v, want ECONNRESET", err)
	}
	if s := r.Stats(); s.Active != 0 || s.Dialed != 2 {
		t.Fatalf("after Shutdown: %+v", s)
	}
}

// TestDialerPath: a Relay without the DialData hook dials with its
// Dialer lazily and sends the first flight with a Write (the other tests
// dial through the hook, from a lab namespace). On the test's own
// loopback: the backend receives the request exactly once and the client
// its answer and EOF; a refused far end resets the client and counts one
// failed dial.
func TestDialerPath(t *testing.T) {
	noLeaks(t)
	bl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	got := make(chan string, 2)
	labtest.Serve(bl, func(c net.Conn) {
		b, _ := io.ReadAll(c) // the client's request, up to its half-close
		got <- string(b)
		c.Write([]byte("answer:" + string(b)))
	})
	r := &relay.Relay{To: bl.Addr().String(), Dialer: &fastopen.Dialer{}, Logger: testLogger(t, "relay")}
	rl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Serve(rl) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-done; err != relay.ErrClosed {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})

	c, err := net.Dial("tcp4", rl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("request"))
	c.(*net.TCPConn).CloseWrite()
	answer, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(answer) != "answer:request" {
		t.Fatalf("client read %q, %v; want %q and EOF", answer, err, "answer:request")
	}
	if b := <-got; b != "request" {
		t.Fatalf("backend received %q, want %q", b, "request")
	}
	if err := waitFor(func() bool { return r.Stats().Active == 0 }); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Dialed != 1 || s.DialErrors != 0 || s.BytesUp != uint64(len("request")) || s.BytesDown != uint64(len("answer:request")) {
		t.Fatalf("relay %+v: want one dial, 7 bytes up, 14 down", s)
	}
	select {
	case b := <-got:
		t.Fatalf("backend received a second connection (%q)", b)
	default:
	}

	closed, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := &relay.Relay{To: closed.Addr().String(), Dialer: &fastopen.Dialer{}, Logger: testLogger(t, "relay to a closed port")}
	closed.Close()
	dl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ddone := make(chan error, 1)
	go func() { ddone <- down.Serve(dl) }()
	defer func() { down.Close(); <-ddone }()
	c, err = net.Dial("tcp4", dl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello"))
	if _, err := io.ReadAll(c); !isReset(err) {
		t.Fatalf("client read: %v, want ECONNRESET", err)
	}
	if err := waitFor(func() bool { return down.Stats().Active == 0 }); err != nil {
		t.Fatal(err)
	}
	if s := down.Stats(); s.DialErrors != 1 || s.Dialed != 0 {
		t.Fatalf("relay %+v: want one failed dial", s)
	}
}
