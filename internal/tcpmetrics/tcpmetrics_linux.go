package tcpmetrics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The tcp_metrics generic netlink family, from include/uapi/linux/tcp_metrics.h
// (x/sys/unix has no constants for it).
const (
	genlName    = "tcp_metrics" // TCP_METRICS_GENL_NAME
	genlVersion = 0x1           // TCP_METRICS_GENL_VERSION

	cmdGet = 1 // TCP_METRICS_CMD_GET
	cmdDel = 2 // TCP_METRICS_CMD_DEL

	attrAddrIPv4      = 1  // TCP_METRICS_ATTR_ADDR_IPV4, __be32
	attrAddrIPv6      = 2  // TCP_METRICS_ATTR_ADDR_IPV6, 16 bytes
	attrAge           = 3  // TCP_METRICS_ATTR_AGE, msecs
	attrVals          = 6  // TCP_METRICS_ATTR_VALS, nested, u32 values
	attrFopenMSS      = 7  // TCP_METRICS_ATTR_FOPEN_MSS, u16
	attrFopenSynDrops = 8  // TCP_METRICS_ATTR_FOPEN_SYN_DROPS, u16
	attrFopenDropTS   = 9  // TCP_METRICS_ATTR_FOPEN_SYN_DROP_TS, msecs age
	attrFopenCookie   = 10 // TCP_METRICS_ATTR_FOPEN_COOKIE, binary
	attrSaddrIPv4     = 11 // TCP_METRICS_ATTR_SADDR_IPV4, __be32
	attrSaddrIPv6     = 12 // TCP_METRICS_ATTR_SADDR_IPV6, 16 bytes

	// Nested in TCP_METRICS_ATTR_VALS: enum tcp_metric_index + 1
	// (TCP_METRICS_A_METRICS_RTT_US, TCP_METRICS_A_METRICS_RTTVAR_US).
	valRTTus    = 6
	valRTTVarus = 7
	rttShift    = 3 // tcp_sock.srtt_us is << 3
	rttVarShift = 2 // tcp_sock.mdev_us is << 2

	sizeofGenlmsghdr = int(unsafe.Sizeof(unix.Genlmsghdr{})) // struct genlmsghdr
	nlmsgAlignTo     = 4                                     // NLMSG_ALIGNTO, include/uapi/linux/netlink.h
	recvBufSize      = 1 << 16                               // one read of netlink messages
	maxEntries       = 1 << 16                               // bound on a dump (the kernel's cache is smaller)
)

// familyID caches the tcp_metrics family's id; generic netlink ids are
// global, not per network namespace.
var familyID atomic.Uint32

// Get returns the kernel's entry for dest (any source address), or
// ErrNotFound. Reading needs no privileges.
func Get(dest netip.Addr) (Entry, error) {
	var e Entry
	if !dest.IsValid() {
		return e, errors.New("tcpmetrics: Get needs a destination address")
	}
	msgs, err := request(cmdGet, 0, addrAttr(dest))
	if err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
			return e, ErrNotFound
		}
		return e, fmt.Errorf("read TCP metrics of %s: %w", dest, err)
	}
	if len(msgs) == 0 {
		return e, ErrNotFound
	}
	return parseEntry(msgs[0]), nil
}

// Dump returns every entry of the kernel's cache.
func Dump() ([]Entry, error) {
	msgs, err := request(cmdGet, unix.NLM_F_DUMP, nil)
	if err != nil {
		return nil, fmt.Errorf("dump TCP metrics: %w", err)
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		if e := parseEntry(m); e.Dest.IsValid() {
			out = append(out, e)
		}
	}
	return out, nil
}

// Delete makes the kernel forget its metrics for dest, or for every
// destination when dest is the zero Addr. It needs CAP_NET_ADMIN (the
// error then wraps os.ErrPermission); nothing cached for dest wraps
// ErrNotFound.
func Delete(dest netip.Addr) error {
	var attrs []byte
	what := "all destinations"
	if dest.IsValid() {
		attrs = addrAttr(dest)
		what = dest.Unmap().String()
	}
	_, err := request(cmdDel, unix.NLM_F_ACK, attrs)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("flush TCP metrics of %s: %w", what, os.ErrPermission)
	case errors.Is(err, unix.ESRCH), errors.Is(err, unix.ENOENT):
		return fmt.Errorf("flush TCP metrics of %s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("flush TCP metrics of %s: %w", what, err)
}

func addrAttr(a netip.Addr) []byte {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return appendAttr(nil, attrAddrIPv4, b[:])
	}
	b := a.As16()
	return appendAttr(nil, attrAddrIPv6, b[:])
}

func align(n int) int { return (n + nlmsgAlignTo - 1) &^ (nlmsgAlignTo - 1) }

func appendAttr(b []byte, typ uint16, val []byte) []byte {
	l := unix.SizeofNlAttr + len(val)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for range align(l) - l {
		b = append(b, 0)
	}
	return b
}

// attrs calls fn for each attribute in b.
func attrs(b []byte, fn func(typ uint16, val []byte)) {
	for len(b) >= unix.SizeofNlAttr {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < unix.SizeofNlAttr || l > len(b) {
			return
		}
		fn(typ, b[unix.SizeofNlAttr:l])
		if align(l) >= len(b) {
			return
		}
		b = b[align(l):]
	}
}

func msecs(v []byte) time.Duration {
	switch len(v) {
	case 8:
		return time.Duration(binary.NativeEndian.Uint64(v)) * time.Millisecond
	case 4:
		return time.Duration(binary.NativeEndian.Uint32(v)) * time.Millisecond
	}
	return 0
}

func u16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.NativeEndian.Uint16(v)
}

// parseEntry reads one TCP_METRICS_CMD_GET reply (after the genl header).
func parseEntry(b []byte) Entry {
	var e Entry
	attrs(b, func(typ uint16, v []byte) {
		switch typ {
		case attrAddrIPv4, attrAddrIPv6:
			e.Dest, _ = netip.AddrFromSlice(v)
		case attrSaddrIPv4, attrSaddrIPv6:
			e.Source, _ = netip.AddrFromSlice(v)
		case attrAge:
			e.Age = msecs(v)
		case attrFopenMSS:
			e.MSS = u16(v)
		case attrFopenSynDrops:
			e.SYNDrops = u16(v)
		case attrFopenDropTS:
			e.SYNDropAge = msecs(v)
		case attrFopenCookie:
			e.Cookie = append([]byte(nil), v...)
		case attrVals:
			attrs(v, func(typ uint16, v []byte) {
				if len(v) < 4 {
					return
				}
				// The kernel keeps them as the socket does: srtt_us
				// scaled by 8, mdev_us by 4 (iproute2 shifts them the
				// same way).
				d := time.Duration(binary.NativeEndian.Uint32(v)) * time.Microsecond
				switch typ {
				case valRTTus:
					e.RTT = d >> rttShift
				case valRTTVarus:
					e.RTTVar = d >> rttVarShift
				}
			})
		}
	})
	return e
}

// family returns the tcp_metrics family id, asking the kernel once.
func family() (uint16, error) {
	if id := familyID.Load(); id != 0 {
		return uint16(id), nil
	}
	name := append([]byte(genlName), 0)
	msgs, err := roundTrip(unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, 1, 0, appendAttr(nil, unix.CTRL_ATTR_FAMILY_NAME, name))
	if err != nil {
		return 0, fmt.Errorf("find the %s netlink family: %w", genlName, err)
	}
	var id uint16
	for _, m := range msgs {
		attrs(m, func(typ uint16, v []byte) {
			if typ == unix.CTRL_ATTR_FAMILY_ID {
				id = u16(v)
			}
		})
	}
	if id == 0 {
		return 0, fmt.Errorf("find the %s netlink family: no id in the kernel's answer", genlName)
	}
	familyID.Store(uint32(id))
	return id, nil
}

func request(cmd uint8, flags uint16, attrs []byte) ([][]byte, error) {
	id, err := family()
	if err != nil {
		return nil, err
	}
	return roundTrip(id, cmd, genlVersion, flags, attrs)
}

var seq atomic.Uint32

// roundTrip sends one generic netlink request and returns the payloads
// (after the genl header) of the answers, until the kernel's last message.
func roundTrip(typ uint16, cmd, version uint8, flags uint16, attrs []byte) ([][]byte, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	s := seq.Add(1)
	l := unix.SizeofNlMsghdr + sizeofGenlmsghdr + len(attrs)
	msg := make([]byte, 0, l)
	msg = binary.NativeEndian.AppendUint32(msg, uint32(l))
	msg = binary.NativeEndian.AppendUint16(msg, typ)
	msg = binary.NativeEndian.AppendUint16(msg, unix.NLM_F_REQUEST|flags)
	msg = binary.NativeEndian.AppendUint32(msg, s)
	msg = binary.NativeEndian.AppendUint32(msg, 0)
	msg = append(msg, cmd, version, 0, 0)
	msg = append(msg, attrs...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto", err)
	}
	dump := flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	ack := flags&unix.NLM_F_ACK != 0
	var out [][]byte
	buf := make([]byte, recvBufSize)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return nil, os.NewSyscallError("recvfrom", err)
		}
		b := buf[:n]
		for len(b) >= unix.SizeofNlMsghdr {
			h := (*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
			ml := int(h.Len)
			if ml < unix.SizeofNlMsghdr || ml > len(b) {
				return nil, errors.New("malformed netlink message")
			}
			body := b[unix.SizeofNlMsghdr:ml]
			if align(ml) >= len(b) {
				b = nil
			} else {
				b = b[align(ml):]
			}
			if h.Seq != s {
				continue
			}
			switch h.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(body) < 4 {
					return nil, errors.New("short netlink error message")
				}
				if e := int32(binary.NativeEndian.Uint32(body)); e != 0 {
					return nil, unix.Errno(-e)
				}
				return out, nil // the ACK
			}
			if len(body) >= sizeofGenlmsghdr && len(out) < maxEntries {
				out = append(out, append([]byte(nil), body[sizeofGenlmsghdr:]...))
			}
			if !dump && !ack && h.Flags&unix.NLM_F_MULTI == 0 {
				return out, nil
			}
		}
	}
}
