package fastopen

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tcpiOptSYNData is TCPI_OPT_SYN_DATA from linux/tcp.h: the SYN's data
// was acknowledged (client) or accepted (server). x/sys does not define it.
const tcpiOptSYNData = 0x20

// Values of tcpi_fastopen_client_fail, enum tcp_fastopen_client_fail in
// linux/tcp.h (Linux 5.5+). x/sys does not define them.
const (
	tfoCookieUnavailable  = 1 // TFO_COOKIE_UNAVAILABLE: no cookie, cookie request sent
	tfoDataNotAcked       = 2 // TFO_DATA_NOT_ACKED: SYN-ACK did not ack the SYN data
	tfoSYNRetransmitted   = 3 // TFO_SYN_RETRANSMITTED: SYN-ACK did not ack SYN with data
	tfoClientFailBits     = 2 // width of the tcpi_fastopen_client_fail bit-field
	tfoClientFailShiftLE  = 1 // after tcpi_delivery_rate_app_limited:1
	tfoClientFailByteSkip = 2 // bytes after tcpi_options: the wscale byte, then this one
)

// fastOpenFailByte is the offset in struct tcp_info of the byte holding
// tcpi_delivery_rate_app_limited:1 and tcpi_fastopen_client_fail:2, which
// x/sys's TCPInfo leaves as padding after Options and the wscale byte.
var fastOpenFailByte = unsafe.Offsetof(unix.TCPInfo{}.Options) + tfoClientFailByteSkip

// clientFail extracts tcpi_fastopen_client_fail. Bit-fields are laid out
// from the least significant bit on little-endian machines and from the
// most significant on big-endian ones.
func clientFail(ti *unix.TCPInfo) uint8 {
	b := *(*uint8)(unsafe.Add(unsafe.Pointer(ti), fastOpenFailByte))
	mask := uint8(1<<tfoClientFailBits - 1)
	if isBigEndian {
		return b >> (8 - tfoClientFailShiftLE - tfoClientFailBits) & mask
	}
	return b >> tfoClientFailShiftLE & mask
}

// kernelReportsClientFail: the running kernel (Linux 5.5+) fills
// tcpi_fastopen_client_fail, so a zero there means it recorded no failure.
var kernelReportsClientFail = func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	major, minor, ok := kernelVersion(unix.ByteSliceToString(u.Release[:]))
	return ok && (major > 5 || major == 5 && minor >= 5)
}()

// kernelVersion parses the major and minor numbers of a kernel release
// such as "6.8.0-45-generic".
func kernelVersion(release string) (major, minor int, ok bool) {
	ma, rest, found := strings.Cut(release, ".")
	if !found {
		return 0, 0, false
	}
	mi := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mi = rest[:i]
	}
	var err1, err2 error
	major, err1 = strconv.Atoi(ma)
	minor, err2 = strconv.Atoi(mi)
	return major, minor, err1 == nil && err2 == nil
}

var isBigEndian = func() bool {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	return b[0] == 0
}()

// readTCPInfo reads TCP_INFO of the socket fd into ti without allocating:
// x/sys's GetsockoptTCPInfo returns a new struct on every call, which on
// a connection's hot paths (the first write, accept) would be most of
// what the library allocates per connection.
func readTCPInfo(fd uintptr, ti *unix.TCPInfo) error {
	return getTCPInfo(fd, unsafe.Pointer(ti), uint32(unsafe.Sizeof(*ti)))
}

// getTCPInfo reads the first l bytes of TCP_INFO of the socket fd into p.
func getTCPInfo(fd uintptr, p unsafe.Pointer, l uint32) error {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO, uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if errno != 0 {
		return os.NewSyscallError("getsockopt TCP_INFO", errno)
	}
	return nil
}

// tcpInfo reads TCP_INFO of tc and its tcpi_fastopen_client_fail,
// allocating nothing (readTCPInfo): it runs at every accept.
func tcpInfo(tc *net.TCPConn) (unix.TCPInfo, uint8, error) {
	var ti unix.TCPInfo
	rc, err := tc.SyscallConn()
	if err != nil {
		return ti, 0, err
	}
	if cerr := rc.Control(func(fd uintptr) { err = readTCPInfo(fd, &ti) }); cerr != nil {
		return ti, 0, cerr
	}
	return ti, clientFail(&ti), err
}

var stateNames = map[uint8]string{
	unix.BPF_TCP_ESTABLISHED:  "ESTABLISHED",
	unix.BPF_TCP_SYN_SENT:     "SYN_SENT",
	unix.BPF_TCP_SYN_RECV:     "SYN_RECV",
	unix.BPF_TCP_FIN_WAIT1:    "FIN_WAIT1",
	unix.BPF_TCP_FIN_WAIT2:    "FIN_WAIT2",
	unix.BPF_TCP_TIME_WAIT:    "TIME_WAIT",
	unix.BPF_TCP_CLOSE:        "CLOSE",
	unix.BPF_TCP_CLOSE_WAIT:   "CLOSE_WAIT",
	unix.BPF_TCP_LAST_ACK:     "LAST_ACK",
	unix.BPF_TCP_LISTEN:       "LISTEN",
	unix.BPF_TCP_CLOSING:      "CLOSING",
	unix.BPF_TCP_NEW_SYN_RECV: "NEW_SYN_RECV",
}

// fillKernel sets the fields every side shares from TCP_INFO.
func fillKernel(inf *Info, ti *unix.TCPInfo) {
	inf.SYNData = ti.Options&tcpiOptSYNData != 0
	inf.State = stateNames[ti.State]
	inf.RTT = time.Duration(ti.Rtt) * time.Microsecond
	inf.RTTVar = time.Duration(ti.Rttvar) * time.Microsecond
}

// synRecord is what the write that sent a lazy connection's SYN learned
// from the kernel: that write's length and how many of its bytes the SYN
// carried. It is filled once, by writeRecording. Its owner's mutex
// guards it (Conn.mu, attempt.mu) for writing; whether the SYN has left
// can be read without it (isDone, on every write).
type synRecord struct {
	firstLen int           // that write's length
	state    atomic.Uint32 // synDone | synRecorded | bytes of that write in the SYN
}

const (
	synDone     = 1 << 31 // the SYN has left: nothing more to record
	synRecorded = 1 << 30 // a write through writeRecording sent the SYN
	synBytes    = 1<<30 - 1
)

// setLocked records what the write that sent the SYN learned, and that
// the SYN has left. The owner's mutex is held. inSYN is at most one MSS
// (the kernel copies no more into a SYN).
func (r *synRecord) setLocked(firstLen, inSYN int) {
	r.firstLen = firstLen
	r.state.Store(synDone | synRecorded | uint32(min(inSYN, synBytes)))
}

// markDone notes that the SYN has left, keeping what was recorded.
func (r *synRecord) markDone() { r.state.Or(synDone) }

// getLocked returns what was recorded. The owner's mutex is held.
func (r *synRecord) getLocked() (recorded bool, firstLen, inSYN int) {
	st := r.state.Load()
	return st&synRecorded != 0, r.firstLen, int(st & synBytes)
}

func (r *synRecord) isDone() bool { return r.state.Load()&synDone != 0 }

// resetLocked makes r describe another socket: what its SYN carried
// (from, whose writer is done with it), or nothing yet for a socket whose
// SYN is still to be sent (from nil). r's owner's mutex is held.
func (r *synRecord) resetLocked(from *synRecord) {
	if from == nil {
		r.firstLen = 0
		r.state.Store(0)
		return
	}
	r.firstLen = from.firstLen
	r.state.Store(from.state.Load())
}

// writeRecordingSYN writes b on tc, the connection's socket, like
// tc.Write, recording in c.syn what the SYN carried (writeRecording).
func (c *Conn) writeRecordingSYN(tc *net.TCPConn, b []byte) (int, error) {
	if !c.deferred || len(b) == 0 || c.syn.isDone() {
		return tc.Write(b)
	}
	n, err := writeRecording(tc, &c.mu, &c.syn, b)
	if err != nil {
		if _, ok := err.(*net.OpError); !ok {
			err = c.opError("write", err)
		}
	}
	return n, err
}

// writeRecording writes b on tc, a lazy connection's socket, like
// tc.Write. While the socket's SYN has not left it performs the first
// sendmsg itself, holding the socket's write lock, so that it learns
// exactly how much of b the SYN carried, and records it in rec (guarded
// by mu): the
// kernel's sendmsg on a deferred TFO connect sends the SYN with as much
// of b as fits (min(len, MSS − 40 B of option space), less under memory
// pressure) and returns that count with the connection still in
// SYN_SENT. This is the kernel's own number; reading TCP_INFO after the
// write instead races with the SYN-ACK, which on loopback is processed
// before sendmsg returns and lets the rest follow at once. Whether the
// SYN is still to be sent is read from the kernel (tcpi_segs_out is 0
// until it leaves), so a racing Write or a Read's data-less SYN is never
// mistaken for this write's. Errors of that first sendmsg are not
// wrapped in a *net.OpError.
func writeRecording(tc *net.TCPConn, mu *sync.Mutex, rec *synRecord, b []byte) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		n     int
		werr  error
		first bool
	)
	err = rc.Write(func(fd uintptr) bool {
		var ti unix.TCPInfo
		if readTCPInfo(fd, &ti) != nil || ti.Segs_out != 0 {
			first = false // the SYN has left (or the socket cannot tell): a plain write follows
			return true
		}
		// The record is locked across the sendmsg: the reply to the SYN
		// can be read (and Info asked for) before this goroutine runs
		// again, and Info must then wait for the count, not miss it.
		mu.Lock()
		defer mu.Unlock()
		n, werr = unix.Write(int(fd), b)
		switch {
		case errors.Is(werr, unix.EAGAIN):
			return false
		case werr == nil:
			rec.setLocked(len(b), n)
		case errors.Is(werr, unix.EINPROGRESS):
			rec.setLocked(len(b), 0) // the SYN left without data
		default:
			rec.markDone()
		}
		first = true
		return true
	})
	if err != nil {
		return 0, err
	}
	if !first {
		rec.markDone() // a racing write (recorded) or a Read's data-less SYN sent it
		return tc.Write(b)
	}
	if werr != nil {
		return 0, os.NewSyscallError("write", werr)
	}
	if n == len(b) {
		return n, nil
	}
	m, err := tc.Write(b[n:]) // the rest, after the handshake
	return n + m, err
}

func (c *Conn) info() (Info, error) {
	c.mu.Lock()
	start, requested, deferred, off, cookieReqLost := c.start, c.requested, c.deferred, c.off, c.cookieReqLost
	raced := false
	inf := Info{Side: SideClient, PathProbe: c.pathProbe}
	if x := c.ext.Load(); x != nil {
		raced = x.raced
		if x.pathUntil != 0 {
			inf.PathUntil, inf.PathCause = x.pathUntil.time(), x.pathCause
		}
	}
	c.mu.Unlock()
	started := phase(c.phase.Load()) != phaseDeferred
	noData := start == startNoData
	// Data went into the SYN of a deferred socket (or of the one a racing
	// plain connection replaced); the record, when there is one, says
	// how much.
	inf.Requested, inf.HadCookie = requested || raced, deferred || raced
	inf.SentInSYN = start == startData && (deferred || raced)
	// TCP_INFO first, the SYN record after: a SYN the kernel reports
	// answered was sent by a write that has recorded it or holds c.mu.
	ti, fail, err := tcpInfo(c.sock())
	c.mu.Lock()
	recorded, firstLen, inSYN := c.syn.getLocked()
	c.mu.Unlock()
	if recorded {
		inf.FirstWriteBytes, inf.SYNSentBytes = firstLen, inSYN
		inf.SentInSYN = inSYN > 0
	}
	if err != nil {
		return inf, err
	}
	fillKernel(&inf, &ti)
	switch {
	case inf.SYNData && recorded && inSYN < firstLen:
		inf.Reason = ReasonTooBigForSYN
	case inf.SYNData:
		inf.Reason = ReasonNone
		inf.FirstWriteFit = recorded
	case raced:
		// The SYN with data got no answer within the race delay and a
		// plain connection won the race: the SYN's fate is unknown.
		inf.Reason = ReasonSYNRetransmitted
	case !requested:
		inf.Reason = off // disabled, kernel_off, unsupported
	case cookieReqLost:
		inf.Reason = ReasonCookieRequestLost
	case !started || ti.State == unix.BPF_TCP_SYN_SENT:
		inf.Reason = ReasonPending
	case kernelReason(fail) != ReasonUnknown:
		inf.Reason = kernelReason(fail)
	case noData:
		inf.Reason = ReasonNoData
	case !deferred && !kernelReportsClientFail:
		// The cookie check at connect failed and the kernel is too old
		// to say why: on kernels before 5.5 this is where "no cookie"
		// lands. From 5.5 on the kernel records "no cookie" itself, so a
		// failed check without a reason means active TFO is paused after
		// a suspected blackhole: ReasonUnknown (see `fastopen check`).
		inf.Reason = ReasonNoCookie
	default:
		inf.Reason = ReasonUnknown
	}
	return inf, nil
}

func (s *ServerConn) info() (Info, error) {
	inf := Info{Side: SideServer, Requested: s.l.requested, SYNBytes: s.synBytes}
	ti, _, err := tcpInfo(s.TCPConn)
	if err != nil {
		return inf, err
	}
	fillKernel(&inf, &ti)
	switch {
	case inf.SYNData:
	case s.l.why == ReasonDisabled, s.l.why == ReasonKernelOff, s.l.why == ReasonUnsupported:
		inf.Reason = s.l.why
	default:
		inf.Reason = ReasonNotInSYN
	}
	return inf, nil
}

// synBytesAtAccept measures, right after accept, how many bytes arrived in
// the SYN: a TFO child socket starts with the SYN as its only segment, so
// while that is still true its received byte count is the SYN's payload.
//
// A FIN received after the SYN also advances tcpi_bytes_received, by one
// (the kernel counts up to the segment's end_seq, FIN included). Once the
// peer has shut down writing, the count comes from SIOCINQ instead: the
// bytes not yet read, which the kernel gives without the FIN, and which
// at accept are the SYN's payload.
func synBytesAtAccept(tc *net.TCPConn) int {
	ti, _, err := tcpInfo(tc)
	if err != nil || ti.Options&tcpiOptSYNData == 0 || ti.Data_segs_in != 1 {
		return 0
	}
	switch ti.State {
	case unix.BPF_TCP_CLOSE_WAIT, unix.BPF_TCP_LAST_ACK, unix.BPF_TCP_CLOSING:
	default:
		return int(ti.Bytes_received)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	n, ierr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil || n < 0 {
		return 0
	}
	return n
}

func infoOfSyscallConn(sc syscall.Conn) (Info, error) {
	var inf Info
	rc, err := sc.SyscallConn()
	if err != nil {
		return inf, err
	}
	var ti unix.TCPInfo
	if cerr := rc.Control(func(fd uintptr) { err = readTCPInfo(fd, &ti) }); cerr != nil {
		return inf, cerr
	}
	if err != nil {
		return inf, err
	}
	fillKernel(&inf, &ti)
	if !inf.SYNData {
		inf.Reason = kernelReason(clientFail(&ti))
	}
	return inf, nil
}

// kernelReason maps tcpi_fastopen_client_fail to a Reason; ReasonUnknown
// when the kernel recorded none (TFO_STATUS_UNSPEC).
func kernelReason(fail uint8) Reason {
	switch fail {
	case tfoCookieUnavailable:
		return ReasonNoCookie
	case tfoDataNotAcked:
		return ReasonDataNotAcked
	case tfoSYNRetransmitted:
		return ReasonSYNRetransmitted
	}
	return ReasonUnknown
}
