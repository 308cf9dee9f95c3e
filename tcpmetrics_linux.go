package fastopen

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Names from include/uapi/linux/tcp_metrics.h, which x/sys does not
// define: the generic netlink family of the kernel's per-destination TCP
// metrics cache (what `ip tcp_metrics` shows).
const (
	tcpMetricsGenlName     = "tcp_metrics" // TCP_METRICS_GENL_NAME
	tcpMetricsGenlVersion  = 1             // TCP_METRICS_GENL_VERSION
	tcpMetricsCmdGet       = 1             // TCP_METRICS_CMD_GET
	tcpMetricsAttrAddrIPv4 = 1             // TCP_METRICS_ATTR_ADDR_IPV4 (u32, network order)
	tcpMetricsAttrAddrIPv6 = 2             // TCP_METRICS_ATTR_ADDR_IPV6 (16 bytes)
	tcpMetricsAttrVals     = 6             // TCP_METRICS_ATTR_VALS (nested)
	tcpMetricsAttrCookie   = 10            // TCP_METRICS_ATTR_FOPEN_COOKIE
	tcpMetricsRTTUS        = 6             // TCP_METRICS_A_METRICS_RTT_US, in VALS
	tcpMetricsRTTVarUS     = 7             // TCP_METRICS_A_METRICS_RTTVAR_US, in VALS

	// The cache keeps the values as the socket held them (tcp_update_metrics
	// in net/ipv4/tcp_metrics.c): srtt_us in µs scaled by 8, mdev_us
	// scaled by 4 (iproute2 shifts them back the same way).
	srttShift   = 3
	rttVarShift = 2
)

// sizeofGenlmsghdr is the size of struct genlmsghdr (linux/genetlink.h,
// GENL_HDRLEN), which x/sys defines as a type without a size constant.
const sizeofGenlmsghdr = int(unsafe.Sizeof(unix.Genlmsghdr{}))

// tcpMetricsFamily caches the family's netlink id (0: not looked up).
var tcpMetricsFamily atomic.Uint32

// metricsSocket is a generic netlink socket for tcp_metrics queries.
type metricsSocket struct {
	fd  int
	seq uint32
	buf []byte
}

func openMetrics() (*metricsSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, os.NewSyscallError("socket NETLINK_GENERIC", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind netlink", err)
	}
	// A reply never waits: the kernel answers while handling the request.
	tv := unix.NsecToTimeval(int64(time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &metricsSocket{fd: fd, buf: make([]byte, 4096)}, nil
}

func (s *metricsSocket) close() { unix.Close(s.fd) }

// request sends one generic netlink request and returns the attributes
// of its answer; ENOENT when the kernel has no entry.
func (s *metricsSocket) request(family uint16, cmd, version uint8, attrs []byte) ([]byte, error) {
	s.seq++
	msg := make([]byte, unix.NLMSG_HDRLEN+sizeofGenlmsghdr, unix.NLMSG_HDRLEN+sizeofGenlmsghdr+len(attrs))
	msg = append(msg, attrs...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], family)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:], s.seq)
	msg[unix.NLMSG_HDRLEN] = cmd
	msg[unix.NLMSG_HDRLEN+1] = version
	if err := unix.Sendto(s.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto netlink", err)
	}
	for {
		n, _, err := unix.Recvfrom(s.fd, s.buf, 0)
		if err != nil {
			return nil, os.NewSyscallError("recvfrom netlink", err)
		}
		b := s.buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			typ := binary.NativeEndian.Uint16(b[4:])
			seq := binary.NativeEndian.Uint32(b[8:])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return nil, errors.New("netlink: truncated message")
			}
			body := b[unix.NLMSG_HDRLEN:l]
			b = b[min(nlAlign(l), len(b)):]
			if seq != s.seq {
				continue
			}
			switch {
			case typ == unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(body)); errno != 0 {
						return nil, unix.Errno(errno)
					}
				}
				return nil, unix.ENOENT
			case typ == family && len(body) >= sizeofGenlmsghdr:
				return body[sizeofGenlmsghdr:], nil
			}
		}
	}
}

func nlAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }

// appendAttr appends a netlink attribute.
func appendAttr(b []byte, typ uint16, v []byte) []byte {
	l := unix.SizeofNlAttr + len(v)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	return append(b, make([]byte, nlAlign(l)-l)...)
}

// eachAttr calls fn for each attribute in b.
func eachAttr(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= unix.SizeofNlAttr {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		if l < unix.SizeofNlAttr || l > len(b) {
			return
		}
		fn(binary.NativeEndian.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofNlAttr:l])
		b = b[min(nlAlign(l), len(b)):]
	}
}

// family returns tcp_metrics's netlink family id, looked up once.
func (s *metricsSocket) family() (uint16, error) {
	if id := tcpMetricsFamily.Load(); id != 0 {
		return uint16(id), nil
	}
	attrs, err := s.request(unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, 1, appendAttr(nil, unix.CTRL_ATTR_FAMILY_NAME, append([]byte(tcpMetricsGenlName), 0)))
	if err != nil {
		return 0, err
	}
	var id uint16
	eachAttr(attrs, func(typ uint16, v []byte) {
		if typ == unix.CTRL_ATTR_FAMILY_ID && len(v) >= 2 {
			id = binary.NativeEndian.Uint16(v)
		}
	})
	if id == 0 {
		return 0, errors.New("netlink: no tcp_metrics family")
	}
	tcpMetricsFamily.Store(uint32(id))
	return id, nil
}

// lookup returns what the cache holds for ip; false when nothing.
func (s *metricsSocket) lookup(ip netip.Addr) (pathCache, bool) {
	var pc pathCache
	family, err := s.family()
	if err != nil {
		return pc, false
	}
	ip = ip.Unmap()
	var attr []byte
	if ip.Is4() {
		a := ip.As4()
		attr = appendAttr(nil, tcpMetricsAttrAddrIPv4, a[:])
	} else {
		a := ip.As16()
		attr = appendAttr(nil, tcpMetricsAttrAddrIPv6, a[:])
	}
	attrs, err := s.request(family, tcpMetricsCmdGet, tcpMetricsGenlVersion, attr)
	if err != nil {
		return pc, false
	}
	eachAttr(attrs, func(typ uint16, v []byte) {
		switch typ {
		case tcpMetricsAttrCookie:
			pc.cookie = len(v) > 0
		case tcpMetricsAttrVals:
			eachAttr(v, func(typ uint16, v []byte) {
				if len(v) < 4 {
					return
				}
				v32 := binary.NativeEndian.Uint32(v)
				switch typ {
				case tcpMetricsRTTUS:
					pc.rtt = time.Duration(v32>>srttShift) * time.Microsecond
				case tcpMetricsRTTVarUS:
					pc.rttVar = time.Duration(v32>>rttVarShift) * time.Microsecond
				}
			})
		}
	})
	return pc, true
}

// lookupPaths returns what the kernel's TCP metrics cache holds for each
// of ips (zero values where it holds nothing or cannot be asked).
func lookupPaths(ips ...netip.Addr) []pathCache {
	out := make([]pathCache, len(ips))
	s, err := openMetrics()
	if err != nil {
		return out
	}
	defer s.close()
	for i, ip := range ips {
		out[i], _ = s.lookup(ip)
	}
	return out
}
