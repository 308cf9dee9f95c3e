package fastopen

import (
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"strings"
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

func tcpInfo(sc syscall.Conn) (*unix.TCPInfo, uint8, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, 0, err
	}
	var ti *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		ti, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return nil, 0, err
	}
	if gerr != nil {
		return nil, 0, os.NewSyscallError("getsockopt TCP_INFO", gerr)
	}
	return ti, clientFail(ti), nil
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

func (c *Conn) info() (Info, error) {
	inf := Info{Side: SideClient, Requested: c.st.requested, HadCookie: c.st.deferred}
	c.st.path.fill(&inf)
	c.mu.Lock()
	started, sentData, noData := c.started, c.sentData, c.noData
	c.mu.Unlock()
	inf.SentInSYN = sentData
	ti, fail, err := tcpInfo(c.tc)
	if err != nil {
		return inf, err
	}
	fillKernel(&inf, ti)
	switch {
	case inf.SYNData:
		inf.Reason = ReasonNone
	case c.st.disabled:
		inf.Reason = ReasonDisabled
	case c.st.path.skippedTFO():
		inf.Reason = ReasonPathMemory
	case c.st.unsupported:
		inf.Reason = ReasonUnsupported
	case c.st.kernelOff:
		inf.Reason = ReasonKernelOff
	case !started || ti.State == unix.BPF_TCP_SYN_SENT:
		inf.Reason = ReasonPending
	case c.st.path.lostCookieRequest():
		inf.Reason = ReasonCookieRequestLost
	case kernelReason(fail) != ReasonUnknown:
		inf.Reason = kernelReason(fail)
	case noData:
		inf.Reason = ReasonNoData
	case !c.st.deferred && !kernelReportsClientFail:
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
	fillKernel(&inf, ti)
	switch {
	case inf.SYNData:
	case s.l.disabled:
		inf.Reason = ReasonDisabled
	case s.l.kernelOff:
		inf.Reason = ReasonKernelOff
	default:
		inf.Reason = ReasonNotInSYN
	}
	return inf, nil
}

// synBytesAtAccept measures, right after accept, how many bytes arrived in
// the SYN: a TFO child socket starts with the SYN as its only segment, so
// while that is still true its received byte count is the SYN's payload.
func synBytesAtAccept(tc *net.TCPConn) int {
	ti, _, err := tcpInfo(tc)
	if err != nil || ti.Options&tcpiOptSYNData == 0 || ti.Data_segs_in != 1 {
		return 0
	}
	return int(ti.Bytes_received)
}

func infoOfSyscallConn(sc syscall.Conn) (Info, error) {
	var inf Info
	ti, fail, err := tcpInfo(sc)
	if err != nil {
		return inf, err
	}
	fillKernel(&inf, ti)
	if !inf.SYNData {
		inf.Reason = kernelReason(fail)
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
