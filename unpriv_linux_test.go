package fastopen_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/kernel"
)

// TestLazyUnprivileged runs the lazy connection's state machine through
// its paths in a user and network namespace of its own, so that `go test`
// without root still covers it: cold and warm dials (the warm one's data
// in the SYN, by both ends' TCP_INFO), a Read and a Write racing as
// net/http does, a Read whose deadline passed before any Write, an empty
// first Write, and a Close before any Write (no SYN sent).
func TestLazyUnprivileged(t *testing.T) {
	if !labtest.InNetNamespace(t) {
		return
	}
	ctx := context.Background()
	ln, err := (&fastopen.ListenConfig{}).Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ok, why := ln.(*fastopen.Listener).FastOpen(); !ok {
		t.Fatalf("listener: TFO off (%v)", why)
	}
	infos := make(chan fastopen.Info, 16)
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		inf, _ := fastopen.InfoOf(c)
		infos <- inf
		if err == nil {
			c.Write(buf[:n])
			io.Copy(io.Discard, c)
		}
	})
	addr := ln.Addr().String()
	var d fastopen.Dialer
	dialLazy := func() net.Conn { return dial(t, &d, addr) }

	cold := dialLazy()
	echoOn(t, cold, "cold")
	if inf := clientInfo(t, cold); inf.SYNData || inf.Reason != fastopen.ReasonNoCookie {
		t.Fatalf("cold: %+v, want reason no_cookie", inf)
	}
	recv(t, infos)

	warm := dialLazy()
	if inf := clientInfo(t, warm); !inf.HadCookie || inf.Reason != fastopen.ReasonPending {
		t.Fatalf("warm before writing: %+v, want a deferred SYN", inf)
	}
	echoOn(t, warm, "warm")
	wantSYNData(t, "warm", warm)
	if s := recv(t, infos); !s.SYNData || s.SYNBytes != len("warm") {
		t.Fatalf("server, warm: %+v, want 4 bytes in the SYN", s)
	}

	// net/http's pattern: the reader waits for the writer.
	both := dialLazy()
	waiting := waitSignal(t, "read")
	read := make(chan error, 1)
	go func() {
		both.SetReadDeadline(time.Now().Add(bound))
		_, err := io.ReadFull(both, make([]byte, len("request")))
		read <- err
	}()
	within(t, "the Read starting to wait", func() struct{} { return <-waiting })
	if _, err := both.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	if err := within(t, "Read", func() error { return <-read }); err != nil {
		t.Fatal(err)
	}
	wantSYNData(t, "Read and Write from two goroutines", both)
	recv(t, infos)

	past := dialLazy()
	past.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := past.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with a past deadline: %v, want a timeout", err)
	}
	past.SetReadDeadline(time.Time{})
	echoOn(t, past, "still in the SYN")
	wantSYNData(t, "Write after a timed-out Read", past)
	recv(t, infos)

	empty := dialLazy()
	if n, err := empty.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty Write: %d, %v", n, err)
	}
	echoOn(t, empty, "after the SYN")
	if inf := clientInfo(t, empty); inf.SYNData || inf.SentInSYN || inf.Reason != fastopen.ReasonNoData {
		t.Fatalf("after an empty first Write: %+v, want reason no_data", inf)
	}
	recv(t, infos)

	before, err := kernel.ReadCounters()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		dialLazy().Close()
	}
	after, err := kernel.ReadCounters()
	if err != nil {
		t.Fatal(err)
	}
	if n := after.Sub(before)["Tcp.ActiveOpens"]; n != 0 {
		t.Fatalf("%d SYNs sent for lazy connections closed before writing", n)
	}
	t.Logf("as uid %d in a namespace of its own: cold, warm (%d bytes in the SYN), Read/Write race, past deadline, empty Write, Close before Write", os.Getuid(), len("warm"))
}

// TestLazyDialContractUnprivileged runs the dial contract of the lazy
// connection without root, in a namespace of its own: a listener whose
// accept queue is full drops SYNs silently (a dead host), and the client
// holds a cookie for its IP. A lazy dial with Timeout fails after it with
// ErrNotDelivered; a name whose first address is that one (first: it has
// a cookie) falls back to the next address of the same family (after its
// 2 s share of Timeout) and, across families, to ::1 after
// FallbackDelay; each request is read exactly once.
func TestLazyDialContractUnprivileged(t *testing.T) {
	if !labtest.InNetNamespace(t) {
		return
	}
	// A backlog of 1 (Go reads somaxconn at its first listen): two
	// unaccepted connections fill the queue.
	if err := os.WriteFile("/proc/sys/net/core/somaxconn", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	count := make(chan string, 16)
	serve := func(addr string) net.Listener {
		ln, err := (&fastopen.ListenConfig{}).Listen(ctx, "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		labtest.Serve(ln, func(c net.Conn) {
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			if inf, _ := fastopen.InfoOf(c); inf.SYNData {
				count <- string(buf[:n])
			} else {
				count <- "not in the SYN: " + string(buf[:n])
			}
			c.Write(buf[:n])
		})
		return ln
	}
	second := serve("127.0.0.2:0")
	port := second.Addr().(*net.TCPAddr).Port
	serve(net.JoinHostPort("::1", itoa(port)))
	warm := serve("127.0.0.1:0")
	var d fastopen.Dialer
	c := dial(t, &d, warm.Addr().String()) // a cookie for 127.0.0.1 only: it is tried first
	echoOn(t, c, "cookie please")
	c.Close()
	<-count
	full, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for i := 0; ; i++ { // fill its queue until a connect goes unanswered
		c, err := (&net.Dialer{Timeout: 100 * time.Millisecond}).Dial("tcp4", full.Addr().String())
		if err != nil {
			break
		}
		defer c.Close()
		if i == 10 {
			t.Fatal("the listen queue never filled")
		}
	}
	dead := full.Addr().String()

	bounded := fastopen.Dialer{Dialer: net.Dialer{Timeout: 300 * time.Millisecond}}
	c = dial(t, &bounded, dead)
	took, err := timed(t, "first Write to a dead host", func() error {
		_, err := c.Write([]byte("lost"))
		return err
	})
	wantDialTimeout(t, "lazy first Write to a dead host", err, true)
	if took > 500*time.Millisecond {
		t.Fatalf("failed after %v, want about Timeout (300 ms)", took)
	}

	for _, tc := range []struct {
		name, second string
		max          time.Duration
	}{{"same family", "127.0.0.2", 3 * time.Second}, {"other family", "::1", time.Second}} {
		d := fastopen.Dialer{Dialer: net.Dialer{Timeout: 4 * time.Second, Resolver: fakeDNS("two.test.", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr(tc.second))}}
		c := dial(t, &d, net.JoinHostPort("two.test.", itoa(port)))
		req := "fallback to the " + tc.name
		took, err := timed(t, tc.name, func() error {
			if _, err := c.Write([]byte(req)); err != nil {
				return err
			}
			_, err := io.ReadFull(c, make([]byte, len(req)))
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// The second address has no cookie yet: the request follows its
		// handshake.
		if got, want := <-count, "not in the SYN: "+req; got != want || took > tc.max || c.RemoteAddr().(*net.TCPAddr).IP.String() != tc.second {
			t.Fatalf("%s: %v read %q after %v, want %v to read %q within %v", tc.name, c.RemoteAddr(), got, took, tc.second, want, tc.max)
		}
		t.Logf("%s: answered by %v after %v", tc.name, c.RemoteAddr(), took)
	}
	select {
	case extra := <-count:
		t.Fatalf("a request was read twice, or the lost one arrived: %q", extra)
	default:
	}
}

// dial dials address with d, failing the test on error, and closes the
// connection when the test ends.
func dial(t *testing.T, d *fastopen.Dialer, address string) net.Conn {
	t.Helper()
	c, err := d.DialContext(context.Background(), "tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
