package fastopen_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

// These tests check where the lazy connection's settling (fallback,
// racing), the path memory and the record of what the SYN carried meet.

// lookupIn returns what mem knows about ip, as seen from h's namespace.
func lookupIn(t *testing.T, h *lab.Host, mem *fastopen.PathMemory, ip netip.Addr) (fastopen.PathEntry, bool) {
	t.Helper()
	var e fastopen.PathEntry
	var ok bool
	labtest.Run(t, h, func() error { e, ok = mem.Lookup(ip); return nil })
	return e, ok
}

// TestReview2RaceTeachesPathMemory: a racing dial whose SYN with data is
// dropped is saved by the plain connection, and Info says
// syn_retransmitted. The path memory must learn that failure too (README:
// it remembers "the SYN with data lost"), so that the next dial leaves TFO
// out instead of paying the race delay again on every connection.
func TestReview2RaceTeachesPathMemory(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	server := l.ServerAddr(false)
	addr, infos := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(server, 8000).String())
	mem := &fastopen.PathMemory{Backoff: time.Minute}
	d := fastopen.Dialer{PathMemory: mem, Race: true, RaceDelay: 40 * time.Millisecond}

	exchange(t, l.Client, &d, "tcp4", addr, "cookie please")
	recv(t, infos)
	inf := exchange(t, l.Client, &d, "tcp4", addr, "raced")
	recv(t, infos)
	if inf.SYNData || inf.Reason != fastopen.ReasonSYNRetransmitted || !inf.HadCookie {
		t.Fatalf("raced dial: %+v, want a deferred SYN with data that lost the race (syn_retransmitted)", inf)
	}
	e, ok := lookupIn(t, l.Client, mem, server)
	if !ok || e.Failures != 1 || e.Cause != fastopen.ReasonSYNRetransmitted || !e.Avoided(time.Now()) {
		t.Errorf("path memory after the lost race: %+v (known %v), want 1 failure, syn_retransmitted, avoided", e, ok)
	}
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "next"); inf.Reason != fastopen.ReasonPathMemory {
		t.Errorf("next dial: %+v, want path_memory (TFO left out after the lost race)", inf)
	}
	recv(t, infos)
}

// TestReview2FallbackSYNRecord: a name whose first address (IPv4) holds
// a cookie but went silent, and whose second (IPv6) has none. The lazy
// connection's SYN with data to the first address is lost; Happy
// Eyeballs moves the request to the IPv6 address, which is dialed with
// a plain cookie-request handshake, so the connection's SYN carried
// nothing. Info must describe the connection the caller holds: no
// cookie, nothing in the SYN, not "18 bytes rode in the SYN" from the
// abandoned socket.
func TestReview2FallbackSYNRecord(t *testing.T) {
	l, silent, count := silentLab(t) // no cookie for the IPv6 address
	v6 := netip.AddrPortFrom(lab.ServerIPv6, 8000)
	d := fastopen.Dialer{
		Dialer:     net.Dialer{Timeout: 4 * time.Second, FallbackDelay: 50 * time.Millisecond, Resolver: fakeDNS("dual.test.", silent, v6.Addr())},
		PathMemory: &fastopen.PathMemory{},
	}
	c := labtest.Dial(t, l.Client, &d, "tcp", "dual.test.:8000")
	defer c.Close()
	if inf := clientInfo(t, c); !inf.HadCookie || c.RemoteAddr().String() != netip.AddrPortFrom(silent, 8000).String() {
		t.Fatalf("dial: %+v to %v, want a deferred SYN to the silent IPv4 address", inf, c.RemoteAddr())
	}
	const req = "first flight, 30 bytes long..."
	c.SetDeadline(time.Now().Add(bound))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(req))); err != nil {
		t.Fatalf("read: %v", err)
	}
	if c.RemoteAddr().String() != v6.String() {
		t.Fatalf("answered by %v, want %v", c.RemoteAddr(), v6)
	}
	if n := count(req); n != 1 {
		t.Fatalf("the server read the request %d times, want once", n)
	}
	inf := clientInfo(t, c)
	t.Logf("info after the fallback: %+v", inf)
	if inf.HadCookie || inf.SYNData {
		t.Fatalf("IPv6 connection: %+v, want one dialed without a cookie", inf)
	}
	if inf.SentInSYN || inf.SYNSentBytes != 0 || inf.Reason != fastopen.ReasonNoCookie {
		t.Errorf("IPv6 connection: SentInSYN %v, SYNSentBytes %d, reason %q; want nothing in its SYN (no cookie): the record is the abandoned IPv4 socket's",
			inf.SentInSYN, inf.SYNSentBytes, inf.Reason.Code())
	}
}

// TestReview2CloseAfterRaceSwap (meaningful under -race): a racing dial
// replaces the connection's socket and dialState (swap, under Conn.mu)
// in the goroutine that wrote, then closes the losing socket. Another
// goroutine that closes the connection after that, ordered after it only
// by the kernel (it sees the losing descriptor gone), must not read the
// dialState unlocked: Close's path-memory observation (observePath reads
// c.st.path before taking c.mu) does. (The server is not used as the
// signal: syscall.Read/Write carry race annotations that would order the
// two goroutines.)
func TestReview2CloseAfterRaceSwap(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	addr, infos := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(l.ServerAddr(false), 8000).String())
	var d fastopen.Dialer
	cold := labtest.Dial(t, l.Client, &d, "tcp4", addr)
	echoOn(t, cold, "cookie please")
	cold.Close()
	recv(t, infos)

	d = fastopen.Dialer{Race: true, RaceDelay: 30 * time.Millisecond, PathMemory: &fastopen.PathMemory{}}
	c := labtest.Dial(t, l.Client, &d, "tcp4", addr)
	// The descriptor and inode of the TFO socket, which the race replaces.
	var fd int
	var st unix.Stat_t
	rc, err := c.(*fastopen.Conn).NetConn().(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(f uintptr) { fd = int(f); unix.Fstat(fd, &st) })
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("raced"))
		errc <- err
	}()
	for end := time.Now().Add(bound); ; {
		var now unix.Stat_t
		if unix.Fstat(fd, &now) != nil || now.Ino != st.Ino {
			break // the losing socket is closed: swap is over
		}
		if time.Now().After(end) {
			t.Fatal("the TFO socket was never replaced: no race happened")
		}
		time.Sleep(time.Millisecond) // polling the kernel for a condition
	}
	c.Close()
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	recv(t, infos)
	if hits := l.Stats().Rules[0].Hits; hits != 1 {
		t.Fatalf("the drop rule matched %d SYNs with data, want 1 (the race)", hits)
	}
}

// TestReview2CloseDuringRace: Close must end a Write that is settling,
// as it ends any blocked Write on a *net.TCPConn. Here the path drops
// every SYN; the racing dial's plain connection has started (both SYNs
// were dropped). Close then ends the TFO socket's wait, but the Write
// keeps waiting for the plain connection's dial, whose context Close
// does not cancel, until the dial's Timeout (3 s; without one, the
// kernel's SYN retries, about two minutes).
func TestReview2CloseDuringRace(t *testing.T) {
	dropSYN := lab.Rule{Name: "drop-syn", Dir: lab.Up, Match: lab.Match{SYN: true}, Action: lab.Drop}
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{dropSYN}})
	if err := l.SetFaultActive("drop-syn", false); err != nil {
		t.Fatal(err)
	}
	addr, infos := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(l.ServerAddr(false), 8000).String())
	var warm fastopen.Dialer
	exchange(t, l.Client, &warm, "tcp4", addr, "cookie please")
	recv(t, infos)
	if err := l.SetFaultActive("drop-syn", true); err != nil {
		t.Fatal(err)
	}

	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: 3 * time.Second}, Race: true, RaceDelay: 30 * time.Millisecond, PathMemory: &fastopen.PathMemory{}}
	c := labtest.Dial(t, l.Client, &d, "tcp4", addr)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("never delivered"))
		errc <- err
	}()
	awaitHits(t, l, 2, "SYNs dropped: the SYN with data, then the racing plain SYN")
	closed := time.Now()
	c.Close()
	select {
	case err := <-errc:
		t.Logf("Write returned %v after Close: %v", time.Since(closed), err)
		if err == nil {
			t.Fatal("Write on a closed connection succeeded")
		}
		if took := time.Since(closed); took > time.Second {
			t.Errorf("Write returned %v after Close, want at once (it waited for the racing dial)", took)
		}
	case <-time.After(bound):
		t.Fatal("Write still blocked after Close")
	}
}

// TestReview2KernelOffBeatsPathMemory: with the kernel's client bit off,
// TFO cannot be used whatever the path memory says; Info and Require
// must say kernel_off (with its fix: the sysctl) rather than path_memory
// ("tried again after a backoff", which it never will be).
func TestReview2KernelOffBeatsPathMemory(t *testing.T) {
	h := labtest.Host(t, "r2koff", int(sysctl.ModeServer))
	addr, _ := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	mem := &fastopen.PathMemory{}
	d := fastopen.Dialer{PathMemory: mem}
	if inf := exchange(t, h, &d, "tcp4", addr, "x"); inf.Reason != fastopen.ReasonKernelOff {
		t.Fatalf("client bit off: %+v, want kernel_off", inf)
	}
	es := mem.Entries()
	if len(es) != 1 {
		t.Fatalf("path memory: %+v, want the one destination dialed", es)
	}
	now := time.Now()
	e := es[0]
	e.Failures, e.Cause, e.LastFailure, e.AvoidUntil = 1, fastopen.ReasonSYNRetransmitted, now, now.Add(time.Minute)
	mem.Restore([]fastopen.PathEntry{e}) // as from a state file
	if inf := exchange(t, h, &d, "tcp4", addr, "y"); inf.Reason != fastopen.ReasonKernelOff {
		t.Errorf("client bit off, path avoided: reason %q, want kernel_off", inf.Reason.Code())
	}
	err := dialErr(h, &fastopen.Dialer{PathMemory: mem, Require: true}, addr)
	var fe *fastopen.Error
	if !errors.As(err, &fe) || fe.Reason != fastopen.ReasonKernelOff {
		t.Errorf("Require, client bit off, path avoided: %v, want reason kernel_off", err)
	}
}

// errReader fails every Read.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// errWriter fails every Write.
type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// TestReview2CopyErrorsAreOpErrors: Conn's ReadFrom and WriteTo fail as
// *net.TCPConn's do, with a *net.OpError ("readfrom", "writeto") wrapping
// the other side's error, whether or not the lazy handshake has started
// (the package promises *net.OpError errors, as from a *net.TCPConn).
func TestReview2CopyErrorsAreOpErrors(t *testing.T) {
	h, addr, _ := warmHost(t)
	bad := errors.New("source broke")
	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	if inf := clientInfo(t, c); !inf.HadCookie {
		t.Fatalf("dial: %+v, want a deferred SYN", inf)
	}
	_, err := c.(io.ReaderFrom).ReadFrom(errReader{bad})
	var op *net.OpError
	if !errors.Is(err, bad) || !errors.As(err, &op) || op.Op != "readfrom" {
		t.Errorf("ReadFrom before the handshake: %T %v, want a *net.OpError readfrom wrapping %v", err, err, bad)
	}
	// The reference: the same after the handshake (the socket's own).
	echoOn(t, c, "now open")
	if _, err := c.(io.ReaderFrom).ReadFrom(errReader{bad}); !errors.As(err, &op) || op.Op != "readfrom" {
		t.Fatalf("ReadFrom after the handshake: %T %v, want a *net.OpError readfrom", err, err)
	}

	// WriteTo before any Write: its first Read starts the handshake and
	// gets a server's banner, which w refuses.
	bh, baddr := bannerHost(t, "220 banner\r\n")
	c2 := labtest.Dial(t, bh, &d, "tcp4", baddr)
	if inf := clientInfo(t, c2); !inf.HadCookie {
		t.Fatalf("dial: %+v, want a deferred SYN", inf)
	}
	_, err = c2.(io.WriterTo).WriteTo(errWriter{bad})
	if !errors.Is(err, bad) || !errors.As(err, &op) || op.Op != "writeto" {
		t.Errorf("WriteTo, first bytes: %T %v, want a *net.OpError writeto wrapping %v", err, err, bad)
	}
}

// TestReview2FallbackRetransmitNotCookieLoss: a connection that fell back
// (Happy Eyeballs) to an address without a cookie asked for one in a
// plain handshake that went through at once. Its request segment is then
// lost once and retransmitted. That data retransmission is not a lost
// cookie request: Info must not say cookie_request_lost and the path
// memory must not avoid TFO to that address. (dial observes a
// cookie-request connection right after connect, when every
// retransmission is the SYN's; a socket swapped in later is observed at
// its first Read, after the data.)
func TestReview2FallbackRetransmitNotCookieLoss(t *testing.T) {
	dropData := lab.Rule{Name: "drop-data", Dir: lab.Up, Match: lab.Match{Payload: true}, Action: lab.Drop}
	l, silent, count := silentLabFaults(t, []lab.Rule{dropData}) // no cookie for the IPv6 address
	v6 := netip.AddrPortFrom(lab.ServerIPv6, 8000)
	mem := &fastopen.PathMemory{}
	d := fastopen.Dialer{
		Dialer:     net.Dialer{Timeout: 4 * time.Second, FallbackDelay: 50 * time.Millisecond, Resolver: fakeDNS("dual.test.", silent, v6.Addr())},
		PathMemory: mem,
	}
	c := labtest.Dial(t, l.Client, &d, "tcp", "dual.test.:8000")
	defer c.Close()
	const req = "lost once"
	c.SetDeadline(time.Now().Add(bound))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if c.RemoteAddr().String() != v6.String() {
		t.Fatalf("connected to %v, want %v", c.RemoteAddr(), v6)
	}
	// The IPv4 SYN with data and the IPv6 request were dropped: let the
	// retransmission through.
	awaitHits(t, l, 2, "segments with data dropped")
	if err := l.SetFaultActive("drop-data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(req))); err != nil {
		t.Fatalf("read: %v", err)
	}
	if n := count(req); n != 1 {
		t.Fatalf("the server read the request %d times, want once", n)
	}
	inf := clientInfo(t, c)
	if inf.Reason == fastopen.ReasonCookieRequestLost {
		t.Errorf("info %+v: cookie_request_lost, but the cookie request went through at once (the retransmission was data)", inf)
	}
	var e fastopen.PathEntry
	labtest.Run(t, l.Client, func() error { e, _ = mem.Lookup(v6.Addr()); return nil })
	if e.Failures != 0 || e.Avoided(time.Now()) {
		t.Errorf("path memory for %v: %+v, want no failure (nothing of TFO was lost)", v6.Addr(), e)
	}
}

// TestReview2ReadFirstDialTimeoutError: the handshake of a lazy dial to a
// dead host, started by a Read (no Write), fails after Timeout like one
// started by a Write (TestLazyDialTimeout): a *net.OpError with Op
// "dial". The Read that started it must not wrap that in a second
// *net.OpError ("read dial ..."), and it must be the same error the next
// Read gets.
func TestReview2ReadFirstDialTimeoutError(t *testing.T) {
	l, dead := deadLab(t)
	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: 200 * time.Millisecond}}
	c := labtest.Dial(t, l.Client, &d, "tcp4", dead)
	if inf := clientInfo(t, c); !inf.HadCookie {
		t.Fatalf("lazy dial: %+v, want a deferred SYN", inf)
	}
	first := within(t, "first Read", func() error { _, err := c.Read(make([]byte, 1)); return err })
	second := within(t, "second Read", func() error { _, err := c.Read(make([]byte, 1)); return err })
	t.Logf("first Read: %v; second Read: %v", first, second)
	var op *net.OpError
	if errors.As(first, &op) {
		var inner *net.OpError
		if errors.As(op.Err, &inner) {
			t.Errorf("first Read: %q wraps a *net.OpError in a *net.OpError", first)
		}
	}
	wantDialTimeout(t, "first Read", first, true)
	wantDialTimeout(t, "second Read", second, true)
}

// TestReview2RequireRefusalEndsProbe: a destination's backoff is over, so
// the next dial probes TFO, and the others wait for its outcome (up to
// 10 s). A Require dial that probes, finds no cookie and is refused
// (no_cookie; its handshake fetched a cookie) must end the probe: the
// next Require dial, with the cookie now cached, must be allowed to try
// TFO, not be refused with path_memory for the probe's 10 s.
func TestReview2RequireRefusalEndsProbe(t *testing.T) {
	h := labtest.Host(t, "r2probe", 3)
	addr, _ := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	var ns uint64
	labtest.Run(t, h, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ns, _ = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
		return nil
	})
	mem := &fastopen.PathMemory{}
	now := time.Now()
	mem.Restore([]fastopen.PathEntry{{Namespace: ns, Addr: netip.MustParseAddr("127.0.0.1"), Failures: 1,
		Cause: fastopen.ReasonSYNRetransmitted, LastFailure: now.Add(-2 * time.Minute), AvoidUntil: now.Add(-time.Minute), LastUsed: now}})
	d := fastopen.Dialer{PathMemory: mem, Require: true}
	dial := func() error {
		return h.Run(func() error {
			c, err := d.DialContext(context.Background(), "tcp4", addr)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	var fe *fastopen.Error
	if err := dial(); !errors.As(err, &fe) || fe.Reason != fastopen.ReasonNoCookie {
		t.Fatalf("probe without a cookie: %v, want Require's no_cookie", err)
	}
	if err := dial(); err != nil {
		t.Errorf("next dial, cookie cached: %v, want TFO tried (the refused probe is over)", err)
	}
}

// TestReview2RequireFallback: with Require, a dial succeeds only when the
// SYN can carry the data. A lazy connection to a name whose first address
// (with a cookie) went silent falls back to the second, which has no
// cookie: that connection's SYN can only ask for one, so Require must
// refuse it (ErrNotUsed) rather than deliver the request plain.
func TestReview2RequireFallback(t *testing.T) {
	l, silent, count := silentLab(t) // no cookie for the IPv6 address
	v6 := netip.AddrPortFrom(lab.ServerIPv6, 8000)
	d := fastopen.Dialer{
		Dialer:     net.Dialer{Timeout: 4 * time.Second, FallbackDelay: 50 * time.Millisecond, Resolver: fakeDNS("dual.test.", silent, v6.Addr())},
		PathMemory: &fastopen.PathMemory{},
		Require:    true,
	}
	c := labtest.Dial(t, l.Client, &d, "tcp", "dual.test.:8000")
	defer c.Close()
	const req = "only in a SYN"
	c.SetDeadline(time.Now().Add(bound))
	_, err := c.Write([]byte(req))
	if err == nil {
		io.ReadFull(c, make([]byte, len(req)))
		inf := clientInfo(t, c)
		if !inf.SYNData {
			t.Errorf("Require: the request went to %v without TFO (%+v; the server read it %d times), want ErrNotUsed", c.RemoteAddr(), inf, count(req))
		}
		return
	}
	if !errors.Is(err, fastopen.ErrNotUsed) {
		t.Errorf("Require, fallback without a cookie: %v, want ErrNotUsed", err)
	}
}

// TestReview2ShortTimeoutTeachesPathMemory: on a path that drops SYNs
// with data, a Dialer whose Timeout (300 ms) is below the kernel's SYN
// retransmission timeout (1 s) cannot complete a TFO handshake at all:
// the first Write fails with a dial timeout. That is the "first failure"
// the path memory exists for; the next dial must leave TFO out and work
// (as net.Dialer with the same Timeout does), not fail the same way
// forever.
func TestReview2ShortTimeoutTeachesPathMemory(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	server := l.ServerAddr(false)
	addr, _ := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(server, 8000).String())
	mem := &fastopen.PathMemory{Backoff: time.Minute}
	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: 300 * time.Millisecond}, PathMemory: mem}
	exchange(t, l.Client, &d, "tcp4", addr, "cookie please")

	try := func(msg string) (fastopen.Info, error) {
		c := labtest.Dial(t, l.Client, &d, "tcp4", addr)
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			return fastopen.Info{}, err
		}
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			return fastopen.Info{}, err
		}
		return clientInfo(t, c), nil
	}
	_, err := try("lost in the SYN")
	if !errors.Is(err, fastopen.ErrNotDelivered) {
		t.Fatalf("first TFO dial: %v, want a dial timeout (the SYN with data is dropped, its retransmission comes after Timeout)", err)
	}
	e, _ := lookupIn(t, l.Client, mem, server)
	t.Logf("path memory after the timed-out TFO handshake: %+v", e)
	inf, err := try("second")
	if err != nil {
		t.Fatalf("second dial: %v, want it to work without TFO (path_memory), as net.Dialer does", err)
	}
	if inf.Reason != fastopen.ReasonPathMemory {
		t.Errorf("second dial: %+v, want path_memory", inf)
	}
}

// TestReview2SetDeadlineDuringSettle: Dialer.Timeout bounds a lazy
// connection's handshake (TestLazyDialTimeout). A SetDeadline from
// another goroutine while the first Write waits for that handshake (a
// proxy clearing its deadlines, say) must not lift that bound: the settle
// keeps its timer in the socket's write deadline, which SetDeadline
// overwrites, and the Write then waits for the kernel's SYN retries
// (about two minutes) instead of failing after Timeout.
func TestReview2SetDeadlineDuringSettle(t *testing.T) {
	l, dead := deadLab(t)
	const timeout = 300 * time.Millisecond
	d := fastopen.Dialer{Dialer: net.Dialer{Timeout: timeout}}
	c := labtest.Dial(t, l.Client, &d, "tcp4", dead)
	if inf := clientInfo(t, c); !inf.HadCookie {
		t.Fatalf("lazy dial: %+v, want a deferred SYN", inf)
	}
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		errc <- err
	}()
	awaitHits(t, l, 1, "the SYN left")
	c.SetDeadline(time.Time{}) // no deadline for the caller's own I/O
	select {
	case err := <-errc:
		wantDialTimeout(t, "first Write", err, true)
		if took := time.Since(start); took > timeout+time.Second {
			t.Errorf("first Write failed after %v, want about Timeout (%v)", took, timeout)
		}
	case <-time.After(timeout + 2*time.Second):
		c.Close() // ends the Write
		t.Fatalf("first Write still waiting %v after it started, though Timeout is %v: SetDeadline lifted the dial's bound", time.Since(start), timeout)
	}
}

// awaitHits waits, up to bound, until the lab's first fault rule has
// matched n packets (what they are), and fails the test if it has not.
func awaitHits(t *testing.T, l *lab.Lab, n uint64, what string) {
	t.Helper()
	for end := time.Now().Add(bound); l.Stats().Rules[0].Hits < n; {
		if time.Now().After(end) {
			t.Fatalf("the rule matched %d packets, want %d (%s)", l.Stats().Rules[0].Hits, n, what)
		}
		time.Sleep(time.Millisecond) // polling the lab's counter, a condition
	}
}
