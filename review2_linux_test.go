package fastopen_test

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
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
