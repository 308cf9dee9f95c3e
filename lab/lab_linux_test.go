package lab_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// newLab creates a lab removed when the test ends.
func newLab(t *testing.T, cfg lab.Config) *lab.Lab {
	t.Helper()
	labtest.NeedRoot(t)
	l, err := lab.New(cfg)
	if err != nil {
		t.Fatalf("lab.New: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// tfoListen listens on port in the server with TCP_FASTOPEN and answers
// every connection with "reply:" + the first bytes it reads.
func tfoListen(t *testing.T, l *lab.Lab, v6 bool) string {
	t.Helper()
	addr := netip.AddrPortFrom(l.ServerAddr(v6), 7007).String()
	ln := labtest.Listen(t, l.Server, labtest.RawListenConfig(16), "tcp", addr)
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		c.Write(append([]byte("reply:"), buf[:n]...))
	})
	return addr
}

// tfoExchange connects from the client with TCP_FASTOPEN_CONNECT, sends
// msg (in the SYN when the kernel has a cookie), reads the reply and
// returns it with the socket's TCP_INFO.
func tfoExchange(t *testing.T, l *lab.Lab, addr, msg string) (string, *unix.TCPInfo) {
	t.Helper()
	c := labtest.Dial(t, l.Client, labtest.RawDialer(10*time.Second), "tcp", addr)
	defer c.Close() // at return: each exchange is a whole connection
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	info, err := labtest.TCPInfo(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(reply), info
}

func ruleHits(l *lab.Lab, name string) uint64 {
	for _, r := range l.Stats().Rules {
		if r.Name == name {
			return r.Hits
		}
	}
	return 0
}

func TestConnectTimeMatchesRTT(t *testing.T) {
	const rtt = 20 * time.Millisecond
	l := newLab(t, lab.Config{RTT: rtt})
	for _, v6 := range []bool{false, true} {
		addr := tfoListen(t, l, v6)
		var times []time.Duration
		for range 7 {
			var d time.Duration
			labtest.Run(t, l.Client, func() error {
				start := time.Now()
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				d = time.Since(start)
				if err == nil {
					c.Close()
				}
				return err
			})
			times = append(times, d)
		}
		slices.Sort(times)
		med := times[len(times)/2]
		t.Logf("v6=%v connect times %v (median %v, RTT %v)", v6, times, med, rtt)
		if times[0] < rtt {
			t.Errorf("v6=%v: a connect took %v, less than the RTT %v: the delay is not applied", v6, times[0], rtt)
		}
		if med > rtt+2*time.Millisecond {
			t.Errorf("v6=%v: median connect time %v, want within 2ms of %v", v6, med, rtt)
		}
	}
	s := l.Stats()
	t.Logf("lateness up %+v down %+v", s.Up.Lateness, s.Down.Lateness)
	if s.Up.Lateness.Samples == 0 || s.Up.Delivered == 0 || s.Down.Delivered == 0 {
		t.Errorf("no packets counted: %+v", s)
	}
}

// TestFastOpenAcrossLink is the control for the fault tests: without
// faults the second connection's data rides in the SYN.
func TestFastOpenAcrossLink(t *testing.T) {
	l := newLab(t, lab.Config{RTT: 10 * time.Millisecond})
	addr := tfoListen(t, l, false)
	if r, info := tfoExchange(t, l, addr, "one"); r != "reply:one" || labtest.SYNData(info) {
		t.Fatalf("first connection: reply %q, SYN data %v; want reply:one and no SYN data (no cookie yet)", r, labtest.SYNData(info))
	}
	r, info := tfoExchange(t, l, addr, "two")
	if r != "reply:two" || !labtest.SYNData(info) {
		t.Fatalf("second connection: reply %q, SYN data %v; want the data acked in the SYN", r, labtest.SYNData(info))
	}
	if p := labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenPassive"]; p != 1 {
		t.Errorf("server TCPFastOpenPassive = %d, want 1", p)
	}
}

func TestDropSYNData(t *testing.T) {
	l := newLab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	addr := tfoListen(t, l, false)
	tfoExchange(t, l, addr, "one") // gets a cookie; its SYN has no data
	if h := ruleHits(l, "drop-syn-data"); h != 0 {
		t.Fatalf("rule hit %d times on a SYN without data", h)
	}
	start := time.Now()
	r, info := tfoExchange(t, l, addr, "two")
	t.Logf("exchange with the SYN data dropped took %v", time.Since(start))
	if r != "reply:two" {
		t.Fatalf("reply %q, want reply:two (the kernel should retransmit without data)", r)
	}
	if labtest.SYNData(info) {
		t.Error("TCP_INFO says the SYN data was acked, but the middlebox dropped it")
	}
	if h := ruleHits(l, "drop-syn-data"); h != 1 {
		t.Errorf("drop-syn-data hits = %d, want 1", h)
	}
	if s := l.Stats(); s.Up.FaultDrops != 1 {
		t.Errorf("up fault drops = %d, want 1", s.Up.FaultDrops)
	}
	if p := labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenPassive"]; p != 0 {
		t.Errorf("server accepted %d TFO connections, want 0", p)
	}
}

func TestStripFastOpenFromSYN(t *testing.T) {
	l := newLab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.StripSYNFastOpen()}})
	addr := tfoListen(t, l, true)
	for i, msg := range []string{"one", "two"} {
		r, info := tfoExchange(t, l, addr, msg)
		if r != "reply:"+msg {
			t.Fatalf("connection %d: reply %q (a bad checksum would stop the connection)", i, r)
		}
		if labtest.SYNData(info) {
			t.Errorf("connection %d: SYN data acked although the option was stripped", i)
		}
	}
	if h := ruleHits(l, "strip-tfo-syn"); h != 2 {
		t.Errorf("strip-tfo-syn hits = %d, want 2 (one cookie request per connection)", h)
	}
	c := labtest.Counters(t, l.Server)
	if c["TcpExt.TCPFastOpenCookieReqd"] != 0 || c["TcpExt.TCPFastOpenPassive"] != 0 {
		t.Errorf("server saw TFO: %v", c.FastOpen())
	}
}

func TestStripFastOpenFromSYNACK(t *testing.T) {
	l := newLab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.StripSYNACKFastOpen()}})
	addr := tfoListen(t, l, false)
	for i, msg := range []string{"one", "two"} {
		r, info := tfoExchange(t, l, addr, msg)
		if r != "reply:"+msg || labtest.SYNData(info) {
			t.Errorf("connection %d: reply %q, SYN data %v; want a plain connection", i, r, labtest.SYNData(info))
		}
	}
	if h := ruleHits(l, "strip-tfo-synack"); h != 2 {
		t.Errorf("strip-tfo-synack hits = %d, want 2", h)
	}
	if n := labtest.Counters(t, l.Server)["TcpExt.TCPFastOpenCookieReqd"]; n != 2 {
		t.Errorf("server TCPFastOpenCookieReqd = %d, want 2 (the requests got through)", n)
	}
}

func TestDropSYNACKWithCookie(t *testing.T) {
	l := newLab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNACKCookie()}})
	addr := tfoListen(t, l, false)
	start := time.Now()
	r, info := tfoExchange(t, l, addr, "one")
	t.Logf("first exchange took %v", time.Since(start))
	if r != "reply:one" || labtest.SYNData(info) {
		t.Fatalf("reply %q, SYN data %v", r, labtest.SYNData(info))
	}
	if h := ruleHits(l, "drop-synack-cookie"); h < 1 {
		t.Fatalf("drop-synack-cookie hits = %d, want ≥ 1", h)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("connection took %v: the SYN-ACK with the cookie was not dropped (expected a retransmission)", d)
	}
	if _, info := tfoExchange(t, l, addr, "two"); labtest.SYNData(info) {
		t.Error("second connection sent SYN data: the client got a cookie through the middlebox")
	}
}

func TestBlackhole(t *testing.T) {
	l := newLab(t, lab.Config{RTT: 4 * time.Millisecond, Faults: []lab.Rule{lab.BlackholeAfter(lab.Up, 3)}})
	ln := labtest.Listen(t, l.Server, &net.ListenConfig{}, "tcp", netip.AddrPortFrom(l.ServerAddr(false), 7008).String())
	got := make(chan string, 4)
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	})
	// The handshake is packets 1 and 2 (SYN, ACK).
	c := labtest.Dial(t, l.Client, &net.Dialer{}, "tcp", ln.Addr().String())
	c.Write([]byte("a")) // packet 3
	select {
	case s := <-got:
		if s != "a" {
			t.Fatalf("server read %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the third packet did not arrive")
	}
	c.Write([]byte("b"))
	select {
	case s := <-got:
		t.Fatalf("server read %q after the blackhole", s)
	case <-time.After(300 * time.Millisecond):
	}
	if h := ruleHits(l, "blackhole-up-after-3"); h < 1 {
		t.Errorf("blackhole hits = %d", h)
	}
}

func TestDuplicateSYN(t *testing.T) {
	l := newLab(t, lab.Config{RTT: 4 * time.Millisecond, Faults: []lab.Rule{lab.DuplicateSYN(5 * time.Millisecond)}})
	// Capture what the server's stack receives.
	var h *pcapgo.EthernetHandle
	labtest.Run(t, l.Server, func() (err error) {
		h, err = pcapgo.NewEthernetHandle(lab.TunName)
		return err
	})
	syns := make(chan uint32, 16)
	go func() {
		for {
			data, _, err := h.ReadPacketData()
			if err != nil {
				close(syns)
				return
			}
			p := gopacket.NewPacket(data, layers.LayerTypeIPv4, gopacket.Default)
			if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.SYN && !tcp.ACK {
				syns <- tcp.Seq
			}
		}
	}()
	addr := tfoListen(t, l, false)
	if r, _ := tfoExchange(t, l, addr, "x"); r != "reply:x" {
		t.Fatalf("reply %q", r)
	}
	time.Sleep(50 * time.Millisecond)
	h.Close()
	var seqs []uint32
	for s := range syns {
		seqs = append(seqs, s)
	}
	if len(seqs) != 2 || seqs[0] != seqs[1] {
		t.Errorf("server received SYNs with sequence numbers %v, want the same SYN twice", seqs)
	}
	if s := l.Stats(); s.Up.Duplicated != 1 || ruleHits(l, "dup-syn") != 1 {
		t.Errorf("duplicated %d, rule hits %d; want 1, 1", s.Up.Duplicated, ruleHits(l, "dup-syn"))
	}
}

// udpPair opens a UDP receiver in the server and a sender in the client.
func udpPair(t *testing.T, l *lab.Lab) (send, recv *net.UDPConn) {
	t.Helper()
	labtest.Run(t, l.Server, func() (err error) {
		recv, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(l.ServerAddr(false), 7009)))
		return err
	})
	labtest.Run(t, l.Client, func() (err error) {
		send, err = net.DialUDP("udp", nil, recv.LocalAddr().(*net.UDPAddr))
		return err
	})
	t.Cleanup(func() { send.Close(); recv.Close() })
	return send, recv
}

// receiveSeqs reads numbered datagrams until quiet for 200ms, returning the
// numbers and arrival times.
func receiveSeqs(recv *net.UDPConn) ([]uint32, []time.Time) {
	var seqs []uint32
	var at []time.Time
	buf := make([]byte, 2048)
	for {
		recv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := recv.Read(buf)
		if err != nil {
			return seqs, at
		}
		if n >= 4 {
			seqs = append(seqs, binary.BigEndian.Uint32(buf))
			at = append(at, time.Now())
		}
	}
}

func sendSeqs(t *testing.T, send *net.UDPConn, n, size int, gap time.Duration) {
	t.Helper()
	buf := make([]byte, size)
	for i := 1; i <= n; i++ {
		binary.BigEndian.PutUint32(buf, uint32(i))
		if _, err := send.Write(buf); err != nil {
			t.Fatal(err)
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
}

func TestLossAndDropNth(t *testing.T) {
	l := newLab(t, lab.Config{Seed: 42, Up: lab.LinkConfig{Delay: time.Millisecond, Loss: 0.25, DropNth: []int{2, 5}}})
	send, recv := udpPair(t, l)
	done := make(chan struct{})
	var seqs []uint32
	go func() { seqs, _ = receiveSeqs(recv); close(done) }()
	sendSeqs(t, send, 200, 100, 0)
	<-done
	s := l.Stats().Up
	t.Logf("up: %+v", s)
	if s.Packets != 200 || s.DroppedNth != 2 || s.Lost < 20 || s.Lost > 80 {
		t.Errorf("packets %d, dropped-nth %d, lost %d; want 200, 2, about 50", s.Packets, s.DroppedNth, s.Lost)
	}
	if uint64(len(seqs)) != s.Packets-s.Lost-s.DroppedNth || s.Delivered != uint64(len(seqs)) {
		t.Errorf("received %d, delivered %d, want %d", len(seqs), s.Delivered, s.Packets-s.Lost-s.DroppedNth)
	}
	if slices.Contains(seqs, 2) || slices.Contains(seqs, 5) {
		t.Errorf("datagrams 2 and 5 should have been dropped")
	}
	if !slices.IsSorted(seqs) {
		t.Error("datagrams reordered without jitter")
	}
}

func TestDuplicateAndJitterKeepOrder(t *testing.T) {
	l := newLab(t, lab.Config{Seed: 7, Up: lab.LinkConfig{Delay: 5 * time.Millisecond, Jitter: 3 * time.Millisecond}})
	send, recv := udpPair(t, l)
	done := make(chan struct{})
	var seqs []uint32
	go func() { seqs, _ = receiveSeqs(recv); close(done) }()
	sendSeqs(t, send, 100, 100, 200*time.Microsecond)
	<-done
	if len(seqs) != 100 || !slices.IsSorted(seqs) {
		t.Errorf("got %d datagrams, sorted %v; jitter must keep order", len(seqs), slices.IsSorted(seqs))
	}

	l2 := newLab(t, lab.Config{Seed: 7, Up: lab.LinkConfig{Delay: time.Millisecond, Duplicate: 1, DupDelay: 2 * time.Millisecond}})
	send, recv = udpPair(t, l2)
	done = make(chan struct{})
	go func() { seqs, _ = receiveSeqs(recv); close(done) }()
	sendSeqs(t, send, 10, 100, 0)
	<-done
	if len(seqs) != 20 || l2.Stats().Up.Duplicated != 10 {
		t.Errorf("received %v, duplicated %d; want every datagram twice", seqs, l2.Stats().Up.Duplicated)
	}
}

func TestRateCap(t *testing.T) {
	const rate = 8_000_000 // 1 MB/s
	l := newLab(t, lab.Config{Up: lab.LinkConfig{Rate: rate}})
	send, recv := udpPair(t, l)
	done := make(chan struct{})
	var seqs []uint32
	var at []time.Time
	go func() { seqs, at = receiveSeqs(recv); close(done) }()
	sendSeqs(t, send, 50, 972, 0) // 1000-byte IP packets
	<-done
	if len(seqs) != 50 {
		t.Fatalf("received %d of 50", len(seqs))
	}
	span := at[len(at)-1].Sub(at[0])
	want := 49 * 1000 * 8 * time.Second / rate
	t.Logf("50 packets of 1000 bytes at %d bit/s took %v (ideal %v)", rate, span, want)
	if span < want*9/10 || span > want*3/2 {
		t.Errorf("span %v, want about %v", span, want)
	}
}

// TestCloseLeavesNothing checks that Close removes the namespaces, the
// TUN devices (their file descriptors) and the goroutines.
func TestCloseLeavesNothing(t *testing.T) {
	labtest.NeedRoot(t)
	runtime.GC()
	goroutines := runtime.NumGoroutine()
	fds := countFDs(t)
	l, err := lab.New(lab.Config{RTT: 2 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{l.Client.NS, l.Server.NS}
	for _, n := range names {
		if _, err := os.Stat("/var/run/netns/" + n); err != nil {
			t.Fatalf("namespace %s missing while the lab runs: %v", n, err)
		}
	}
	send, recv := udpPair(t, l)
	sendSeqs(t, send, 5, 100, 0)
	receiveSeqs(recv)
	send.Close()
	recv.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := os.Stat("/var/run/netns/" + n); !os.IsNotExist(err) {
			t.Errorf("namespace %s still exists after Close", n)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", g, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if n := countFDs(t); n > fds {
		t.Errorf("%d open files after Close, %d before (TUN devices leak)", n, fds)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestCleanStaleKeepsLiveLabs(t *testing.T) {
	l := newLab(t, lab.Config{})
	cleaned, err := lab.CleanStale()
	removed := cleaned.Removed
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range removed {
		if r == l.Client.NS || r == l.Server.NS {
			t.Fatalf("CleanStale removed %s of a live lab", r)
		}
	}
	if _, err := os.Stat("/var/run/netns/" + l.Client.NS); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.Client.NS, lab.Prefix) {
		t.Errorf("namespace %s lacks the prefix", l.Client.NS)
	}
}

func TestReorderWithJitter(t *testing.T) {
	l := newLab(t, lab.Config{Seed: 3, Up: lab.LinkConfig{Delay: 2 * time.Millisecond, Jitter: 2 * time.Millisecond, Reorder: true}})
	send, recv := udpPair(t, l)
	done := make(chan struct{})
	var seqs []uint32
	go func() { seqs, _ = receiveSeqs(recv); close(done) }()
	sendSeqs(t, send, 100, 100, 100*time.Microsecond)
	<-done
	if len(seqs) != 100 {
		t.Fatalf("received %d of 100", len(seqs))
	}
	if slices.IsSorted(seqs) {
		t.Error("jitter of ±2ms with Reorder at 10k packets/s reordered nothing")
	}
}

func TestCleanStaleRemovesDeadOwners(t *testing.T) {
	labtest.NeedRoot(t)
	// A process that has exited: its pid names the namespace's owner.
	p := exec.Command("true")
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%sclient-%d-deadbeef", lab.Prefix, p.Process.Pid)
	namedNamespace(t, name)

	cleaned, err := lab.CleanStale()
	removed := cleaned.Removed
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, name) {
		t.Errorf("CleanStale removed %v, not the stale %s", removed, name)
	}
	if _, err := os.Stat("/var/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("%s still exists", name)
	}
}

func TestAttach(t *testing.T) {
	l := newLab(t, lab.Config{})
	h, err := lab.Attach("server", l.Server.NS)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Run(t, h, func() error {
		ifi, err := net.InterfaceByName(lab.TunName)
		if err != nil {
			return fmt.Errorf("attached host does not see the lab's TUN device: %w", err)
		}
		if ifi.MTU != lab.DefaultMTU {
			return fmt.Errorf("MTU %d", ifi.MTU)
		}
		return nil
	})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/var/run/netns/" + l.Server.NS); err != nil {
		t.Errorf("closing an attached host removed the namespace: %v", err)
	}
	if _, err := lab.Attach("x", lab.Prefix+"missing-1-0"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Attach of a missing namespace: %v", err)
	}
}

func TestStopProcesses(t *testing.T) {
	l := newLab(t, lab.Config{})
	cmd := l.Server.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pids, err := l.Server.Pids()
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("server pids %v (%v) lack sleep's %d", pids, err, cmd.Process.Pid)
	}
	if cp, _ := l.Client.Pids(); slices.Contains(cp, cmd.Process.Pid) {
		t.Fatal("the client's processes include the server's sleep")
	}
	if n := l.StopProcesses(time.Second); n != 1 {
		t.Errorf("StopProcesses signalled %d processes, want 1", n)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		t.Fatal("sleep still runs after StopProcesses")
	}
}

// TestCleanStaleKeepsForeignNamespaces: a namespace that merely starts with
// the prefix (someone's "fo-test") is not the lab's and is never removed.
func TestCleanStaleKeepsForeignNamespaces(t *testing.T) {
	labtest.NeedRoot(t)
	for _, name := range []string{lab.Prefix + "t", lab.Prefix + "rev-x", lab.Prefix + "a-1-notahex"} {
		namedNamespace(t, name)
	}
	if _, err := lab.CleanStale(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{lab.Prefix + "t", lab.Prefix + "rev-x", lab.Prefix + "a-1-notahex"} {
		if _, err := os.Stat("/var/run/netns/" + name); err != nil {
			t.Errorf("%s was removed: %v", name, err)
		}
	}
}

// TestStateOfDeadOrReusedPID: a state file whose process has exited, or
// whose pid now belongs to another process, describes no running lab.
func TestStateOfDeadOrReusedPID(t *testing.T) {
	p := exec.Command("true")
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if (&lab.State{PID: p.Process.Pid}).Alive() {
		t.Errorf("state of exited pid %d reported alive", p.Process.Pid)
	}
	self := &lab.State{PID: os.Getpid()}
	if !self.Alive() {
		t.Fatal("own pid not alive")
	}
	self.ProcStart = 1 // this process did not start at tick 1
	if self.Alive() {
		t.Error("a pid with another start time (reused) reported alive")
	}
	// A zombie: started and killed, not yet reaped.
	z := exec.Command("sleep", "10")
	if err := z.Start(); err != nil {
		t.Fatal(err)
	}
	z.Process.Kill()
	defer z.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for (&lab.State{PID: z.Process.Pid}).Alive() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if (&lab.State{PID: z.Process.Pid}).Alive() {
		t.Error("killed, unreaped process reported alive")
	}
}

// namedNamespace creates a bare named network namespace (as another tool
// or a crashed lab would leave one) without entering it, and deletes it
// when the test ends.
func namedNamespace(t *testing.T, name string) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name) // enters it
	if err != nil {
		runtime.UnlockOSThread() // NewNamed failed before switching
		t.Fatal(err)
	}
	ns.Close()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked, so the runtime discards it.
		t.Fatal(err)
	}
	runtime.UnlockOSThread()
	t.Cleanup(func() { netns.DeleteNamed(name) })
}

// TestPacketJumpingTheQueueIsOnTime: a packet due before the one the
// forwarder is waiting for (here each datagram's duplicate is due 30ms
// later, so every new datagram jumps ahead of the previous copy) leaves
// at its own due time, not when the forwarder next happens to wake.
func TestPacketJumpingTheQueueIsOnTime(t *testing.T) {
	l := newLab(t, lab.Config{Up: lab.LinkConfig{Delay: 0, Duplicate: 1, DupDelay: 30 * time.Millisecond}})
	send, recv := udpPair(t, l)
	done := make(chan struct{})
	var seqs []uint32
	var at []time.Time
	go func() { seqs, at = receiveSeqs(recv); close(done) }()
	const n = 20
	sent := make([]time.Time, n+1)
	buf := make([]byte, 100)
	for i := 1; i <= n; i++ {
		binary.BigEndian.PutUint32(buf, uint32(i))
		sent[i] = time.Now()
		if _, err := send.Write(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond)
	}
	<-done
	var delays []time.Duration
	seen := map[uint32]bool{}
	for i, s := range seqs {
		if s >= 1 && s <= n && !seen[s] { // the original; its copy comes 30ms later
			seen[s] = true
			delays = append(delays, at[i].Sub(sent[s]))
		}
	}
	if len(delays) != n || len(seqs) != 2*n {
		t.Fatalf("received %d datagrams (%d distinct), want %d twice", len(seqs), len(delays), n)
	}
	slices.Sort(delays)
	med := delays[n/2]
	t.Logf("zero-delay link, originals ahead of waiting copies: median delay %v, max %v; lateness %+v", med, delays[n-1], l.Stats().Up.Lateness)
	if med > 400*time.Microsecond {
		t.Errorf("median delay of a zero-delay packet %v, want well under 0.4ms: it waited for the forwarder's next wake-up", med)
	}
}

// TestCleanStaleRemovesUnmountedLeftovers: a file named like a lab
// namespace that is not a mount (left by a namespace creation that failed
// half-way, e.g. without the privilege to mount) is removed too.
func TestCleanStaleRemovesUnmountedLeftovers(t *testing.T) {
	labtest.NeedRoot(t)
	p := exec.Command("true")
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%sserver-%d-0badf11e", lab.Prefix, p.Process.Pid)
	path := "/var/run/netns/" + name
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	cleaned, err := lab.CleanStale()
	removed := cleaned.Removed
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, name) {
		t.Errorf("CleanStale removed %v, not the leftover %s", removed, name)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s still exists", path)
	}
}

func init() {
	if strings.HasPrefix(os.Getenv(labtest.UserNSEnv), "TestNewHost") {
		// Keep the main thread for the main goroutine: the runtime cannot
		// end the main thread (it parks it for good), so a locked
		// goroutine's thread left in another namespace must be another
		// thread for the check to see it ended.
		runtime.LockOSThread()
	}
}

// TestNewHostInUserNamespace runs NewHost as root of a new user
// namespace, like `unshare -U -r fastopen lab up`: it may create network
// namespaces but not mount in the host's mount namespace, so it fails
// making /var/run/netns shared, before creating anything. It must fail
// with ErrPrivilege and leave nothing behind.
func TestNewHostInUserNamespace(t *testing.T) {
	if labtest.InUserNamespace(t, 0) {
		newHostInUserNamespace(t, "")
	}
}

// TestNewHostStrandedThread runs NewHost as root of a new user namespace
// with a mount namespace of its own: the network namespace is created and
// named, but the creating thread cannot go back to the original network
// namespace (owned by the host's user namespace). NewHost must fail with
// ErrPrivilege, remove the name it made, and leave no thread of the
// process in the new namespace (the runtime must end that thread).
func TestNewHostStrandedThread(t *testing.T) {
	if labtest.InUserNamespace(t, unix.CLONE_NEWNS) {
		newHostInUserNamespace(t, "return to the original namespace")
	}
}

// newHostInUserNamespace is the child's side of the two tests above; want
// is a text NewHost's error must hold, showing how far creation went.
func newHostInUserNamespace(t *testing.T, want string) {
	netNS := func(task string) string {
		s, err := os.Readlink("/proc/self/task/" + task + "/ns/net")
		if err != nil {
			return "gone" // the thread exited meanwhile
		}
		return s
	}
	self := strconv.Itoa(os.Getpid())
	orig := netNS(self)
	h, err := lab.NewHost(lab.HostConfig{Name: "userns"})
	if err == nil {
		h.Close()
		t.Skip("NewHost works in a user namespace here: nothing to check")
	}
	if !errors.Is(err, lab.ErrPrivilege) || !strings.Contains(err.Error(), want) {
		t.Errorf("NewHost: %v, want an error wrapping ErrPrivilege and saying %q", err, want)
	}
	t.Logf("NewHost: %v", err)
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if strings.Contains(e.Name(), "-"+self+"-") {
			t.Errorf("left /var/run/netns/%s behind", e.Name())
			os.Remove("/var/run/netns/" + e.Name())
		}
	}
	var stray []string
	deadline := time.Now().Add(2 * time.Second)
	for {
		stray = stray[:0]
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if ns := netNS(task.Name()); ns != orig && ns != "gone" {
				stray = append(stray, task.Name()+": "+ns)
			}
		}
		if len(stray) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(stray) > 0 {
		t.Errorf("threads left in another network namespace than %s (the runtime may run any goroutine on them): %v", orig, stray)
	}
}

// mountNSHelperEnv makes TestHostSurvivesIPNetnsAdd's re-executed test
// binary run the check inside a mount namespace of its own.
const mountNSHelperEnv = "FASTOPEN_LAB_MOUNTNS_HELPER"

// TestHostSurvivesIPNetnsAdd: on a fresh system /var/run/netns is a plain
// directory, and the first `ip netns add` turns it into a mount point by
// bind-mounting it onto itself. A lab host created before must still be
// removable afterwards (its name must not end up as a mount hidden under
// the new one). The test runs in a private mount namespace where
// /var/run/netns is made a plain directory again.
func TestHostSurvivesIPNetnsAdd(t *testing.T) {
	if os.Getenv(mountNSHelperEnv) == "1" {
		hostSurvivesIPNetnsAdd(t)
		return
	}
	labtest.NeedRoot(t)
	labtest.NeedCommand(t, "ip")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostSurvivesIPNetnsAdd$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), mountNSHelperEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	// Whatever the helper left can only be plain files now that its mount
	// namespace is gone.
	lab.CleanStale()
	os.Remove(fmt.Sprintf("/var/run/netns/fotest-%d", cmd.Process.Pid))
	if err != nil {
		t.Fatalf("in a mount namespace: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func hostSurvivesIPNetnsAdd(t *testing.T) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make mounts private: %v", err)
	}
	for unix.Unmount("/var/run/netns", unix.MNT_DETACH) == nil {
	}
	h, err := lab.NewHost(lab.HostConfig{Name: "mountns"})
	if err != nil {
		t.Fatal(err)
	}
	other := fmt.Sprintf("fotest-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", other).CombinedOutput(); err != nil {
		h.Close()
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	defer exec.Command("ip", "netns", "del", other).Run()
	a, err := lab.Attach("again", h.NS)
	if err != nil {
		t.Errorf("after ip netns add: %v", err)
	} else {
		labtest.Run(t, a, func() error { _, err := net.InterfaceByName("lo"); return err })
		a.Close()
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close after ip netns add: %v", err)
	}
	if _, err := os.Stat("/var/run/netns/" + h.NS); !os.IsNotExist(err) {
		t.Errorf("/var/run/netns/%s still exists after Close", h.NS)
	}
}

// TestMTU: the configured MTU is the TUN devices' MTU on both hosts and
// bounds TCP's segment size across the link (MSS = MTU - IP and TCP
// headers), for IPv4 and IPv6.
func TestMTU(t *testing.T) {
	const mtu = 1400
	l := newLab(t, lab.Config{MTU: mtu})
	for _, h := range []*lab.Host{l.Client, l.Server} {
		labtest.Run(t, h, func() error {
			ifi, err := net.InterfaceByName(lab.TunName)
			if err == nil && ifi.MTU != mtu {
				err = fmt.Errorf("host %s: %s has MTU %d, want %d", h.Name, lab.TunName, ifi.MTU, mtu)
			}
			return err
		})
	}
	for _, v6 := range []bool{false, true} {
		ln := labtest.Listen(t, l.Server, &net.ListenConfig{}, "tcp", netip.AddrPortFrom(l.ServerAddr(v6), 7010).String())
		labtest.Serve(ln, func(c net.Conn) { io.Copy(io.Discard, c) })
		c := labtest.Dial(t, l.Client, &net.Dialer{}, "tcp", ln.Addr().String())
		if _, err := c.Write(make([]byte, 20000)); err != nil {
			t.Fatal(err)
		}
		info, err := labtest.TCPInfo(c)
		if err != nil {
			t.Fatal(err)
		}
		hdr := uint32(40) // IPv4 + TCP headers
		if v6 {
			hdr = 60
		}
		// Both sides use timestamps, which take 12 bytes of each segment.
		const tsOpt = 12
		for _, mss := range []uint32{info.Advmss, info.Snd_mss} {
			if mss > mtu-hdr || mss < mtu-hdr-tsOpt {
				t.Errorf("v6=%v: advertised MSS %d, send MSS %d; want %d, or %d with timestamps", v6, info.Advmss, info.Snd_mss, mtu-hdr, mtu-hdr-tsOpt)
			}
		}
		c.Close()
	}
	if s := l.Stats(); s.Up.Packets == 0 || s.Up.Bytes/s.Up.Packets > mtu {
		t.Errorf("up: %d packets, %d bytes: more than the MTU on average", s.Up.Packets, s.Up.Bytes)
	}
}
