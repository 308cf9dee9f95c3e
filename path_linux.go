package fastopen

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/fastopen/fastopen/internal/tcpmetrics"
	"golang.org/x/sys/unix"
)

// socketNamespace returns the network namespace cookie of socket fd
// (SO_NETNS_COOKIE, Linux 5.14+), or 0 where the kernel has none.
func socketNamespace(fd int) uint64 {
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0
	}
	return c
}

// currentNamespace returns the namespace cookie of the calling thread's
// network namespace, through a short-lived socket.
func currentNamespace() uint64 {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	return socketNamespace(fd)
}

// pathKernel reads what the kernel's TCP metrics record for addr, in the
// calling thread's namespace. A failed read is not ok: the memory then
// goes by what it saw itself.
func pathKernel(addr netip.Addr) kernelView {
	e, err := tcpmetrics.Get(addr)
	switch {
	case errors.Is(err, tcpmetrics.ErrNotFound):
		return kernelView{ok: true}
	case err != nil:
		return kernelView{}
	}
	return kernelView{ok: true, synDrops: e.SYNDrops, dropAge: e.SYNDropAge}
}

// pathKernelAll reads the kernel's TCP metrics for every destination.
func pathKernelAll() (map[netip.Addr]kernelView, error) {
	es, err := tcpmetrics.Dump()
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Addr]kernelView, len(es))
	for _, e := range es {
		out[e.Dest.Unmap()] = kernelView{ok: true, synDrops: e.SYNDrops, dropAge: e.SYNDropAge}
	}
	return out, nil
}

// pathDecide consults the Dialer's path memory for a socket about to
// connect to address (an IP:port, as net.Dialer passes to Control).
func (d *Dialer) pathDecide(fd uintptr, address string) pathState {
	m := d.memory()
	if m == nil {
		return pathState{}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return pathState{}
	}
	k := pathKey{ns: socketNamespace(int(fd)), addr: ap.Addr().Unmap()}
	return m.decide(k, time.Now(), true)
}

// tcpSummary is what observePath needs from TCP_INFO.
type tcpSummary struct {
	ok           bool
	state        uint8
	options      uint8
	fail         uint8
	totalRetrans uint32
}

// readTCPSummary reads TCP_INFO of fd without allocating (readTCPInfo).
func readTCPSummary(fd uintptr) tcpSummary {
	var ti unix.TCPInfo
	if readTCPInfo(fd, &ti) != nil {
		return tcpSummary{}
	}
	sum := tcpSummary{ok: true, state: ti.State, options: ti.Options, totalRetrans: ti.Total_retrans}
	if kernelReportsClientFail { // before 5.5 the bits are padding
		sum.fail = clientFail(&ti)
	}
	return sum
}

// tcpSummaryOf is readTCPSummary of tc's socket; not ok when it cannot
// be queried.
func tcpSummaryOf(tc *net.TCPConn) (sum tcpSummary) {
	if rc, err := tc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { sum = readTCPSummary(fd) })
	}
	return sum
}

// observePath tells the path memory what the connection showed, once its
// handshake is over; closing says the connection is being closed, which
// ends a probe whose handshake never finished. It allocates nothing.
func (c *Conn) observePath(closing bool) {
	if c.path.Load() == nil { // learned, or nothing to learn
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.path.Load()
	if e == nil {
		return
	}
	tc := c.sock()
	if ra, ok := tc.RemoteAddr().(*net.TCPAddr); !ok || ra.AddrPort().Addr().Unmap() != e.key.addr {
		// A fallback to another address carried the connection: what it
		// shows is not this destination's.
		c.path.Store(nil)
		return
	}
	ti := tcpSummaryOf(tc)
	if !ti.ok {
		return
	}
	if ti.state == unix.BPF_TCP_SYN_SENT || ti.state == unix.BPF_TCP_SYN_RECV {
		if closing && c.pathProbe {
			c.path.Store(nil)
			e.record(outcomeNone, true, time.Now())
		}
		return
	}
	c.path.Store(nil)
	o := outcomeNone
	switch {
	case c.racedLocked():
		// The SYN with data got no SYN-ACK within the race delay and a
		// plain connection won: count it as a lost SYN with data.
		o = outcomeSYNDataLost
	case !c.requested, !c.deferred: // a cookie request: observed at connect (observeCookieRequest)
	case ti.options&tcpiOptSYNData != 0:
		o = outcomeSYNDataAcked
	case c.start != startData:
	case ti.fail == tfoSYNRetransmitted:
		o = outcomeSYNDataLost
	case ti.fail == tfoDataNotAcked:
		o = outcomeDataNotAcked
	case !kernelReportsClientFail && ti.totalRetrans > 0:
		o = outcomeSYNDataLost // before 5.5, the best sign there is
	case !kernelReportsClientFail:
		o = outcomeDataNotAcked
	}
	e.record(o, c.pathProbe, time.Now())
}

// observeAbandoned tells the path memory about tc, the connection's
// socket, given up by a settling handshake: it ran out of time, failed,
// or lost to a connection to another address. A SYN that carried data,
// was not retransmitted (without data) and got no answer within the
// dial's time (timedOut) is a lost SYN with data as far as the memory
// can tell: a dial whose Timeout is below the SYN retransmission timeout
// would otherwise fail the same way every time. A SYN retransmitted
// unanswered too says the host or path is down, not that TFO failed;
// then, as in every other case, a probe just ends. It allocates nothing.
func (c *Conn) observeAbandoned(tc *net.TCPConn, timedOut bool) {
	if c.path.Load() == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.path.Load()
	if e == nil || c.sock() != tc || c.closed {
		return
	}
	c.path.Store(nil)
	o := outcomeNone
	if timedOut && c.deferred && c.start == startData {
		ti := tcpSummaryOf(tc)
		if _, _, inSYN := c.syn.getLocked(); ti.ok && ti.state == unix.BPF_TCP_SYN_SENT && inSYN > 0 && ti.totalRetrans == 0 {
			o = outcomeSYNDataLost
		}
	}
	e.record(o, c.pathProbe, time.Now())
}

// observeCookieRequest tells the path memory how the handshake of the
// socket fd, which asked for a cookie (TFO requested, none cached), fared.
// It runs right after connect returned, before any data is written: every
// retransmission so far was the SYN's, so one means the cookie request
// (or the SYN-ACK bringing the cookie) was lost. A socket swapped in by
// a fallback is observed the same way, not at its first Read, when a
// retransmission may be its data's. It allocates nothing.
func (p *pathState) observeCookieRequest(fd int) {
	if !p.watched() {
		return
	}
	ti := readTCPSummary(uintptr(fd))
	if !ti.ok {
		return
	}
	o := outcomeCookieReceived
	if ti.totalRetrans > 0 {
		o = outcomeCookieReqLost
		p.cookieReqLost = true
	}
	p.record(o, time.Now())
	p.observed = true
}
