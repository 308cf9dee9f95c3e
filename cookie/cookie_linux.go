package cookie

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/fastopen/fastopen/sysctl"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The tcp_metrics generic netlink family, from linux/tcp_metrics.h
// (x/sys/unix has no constants for it).
const (
	tcpMetricsGenlName    = "tcp_metrics" // TCP_METRICS_GENL_NAME
	tcpMetricsGenlVersion = 0x1           // TCP_METRICS_GENL_VERSION

	tcpMetricsCmdGet = 1 // TCP_METRICS_CMD_GET
	tcpMetricsCmdDel = 2 // TCP_METRICS_CMD_DEL

	tcpMetricsAttrAddrIPv4      = 1  // TCP_METRICS_ATTR_ADDR_IPV4, __be32
	tcpMetricsAttrAddrIPv6      = 2  // TCP_METRICS_ATTR_ADDR_IPV6, 16 bytes
	tcpMetricsAttrAge           = 3  // TCP_METRICS_ATTR_AGE, u64 msecs
	tcpMetricsAttrFopenMSS      = 7  // TCP_METRICS_ATTR_FOPEN_MSS, u16
	tcpMetricsAttrFopenSynDrops = 8  // TCP_METRICS_ATTR_FOPEN_SYN_DROPS, u16
	tcpMetricsAttrFopenCookie   = 10 // TCP_METRICS_ATTR_FOPEN_COOKIE, binary
	tcpMetricsAttrSaddrIPv4     = 11 // TCP_METRICS_ATTR_SADDR_IPV4, __be32
	tcpMetricsAttrSaddrIPv6     = 12 // TCP_METRICS_ATTR_SADDR_IPV6, 16 bytes
	genlHeaderLen               = 4  // struct genlmsghdr
)

// tcpMetricsFamily looks up the family's id in the calling thread's
// namespace.
func tcpMetricsFamily() (uint16, error) {
	f, err := netlink.GenlFamilyGet(tcpMetricsGenlName)
	if err != nil {
		return 0, fmt.Errorf("find the %s netlink family: %w", tcpMetricsGenlName, err)
	}
	return f.ID, nil
}

// List lists the TFO cookies the kernel holds for servers (the TCP
// metrics cache, as `ip tcp_metrics show` does), in the calling thread's
// network namespace. Entries without a cookie are left out; none is an
// empty list, not an error. Listing needs no privileges.
func List() ([]Cookie, error) {
	id, err := tcpMetricsFamily()
	if err != nil {
		return nil, err
	}
	req := nl.NewNetlinkRequest(int(id), unix.NLM_F_DUMP)
	req.AddData(&nl.Genlmsg{Command: tcpMetricsCmdGet, Version: tcpMetricsGenlVersion})
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil && !errors.Is(err, nl.ErrDumpInterrupted) {
		return nil, fmt.Errorf("dump TCP metrics: %w", err)
	}
	var out []Cookie
	for _, m := range msgs {
		if len(m) < genlHeaderLen {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[genlHeaderLen:])
		if err != nil {
			return nil, fmt.Errorf("parse TCP metrics: %w", err)
		}
		var c Cookie
		for _, a := range attrs {
			v := a.Value
			switch a.Attr.Type {
			case tcpMetricsAttrAddrIPv4, tcpMetricsAttrAddrIPv6:
				c.Dest, _ = netip.AddrFromSlice(v)
			case tcpMetricsAttrSaddrIPv4, tcpMetricsAttrSaddrIPv6:
				c.Source, _ = netip.AddrFromSlice(v)
			case tcpMetricsAttrAge:
				if len(v) >= 8 {
					c.Age = time.Duration(nl.NativeEndian().Uint64(v)) * time.Millisecond
				}
			case tcpMetricsAttrFopenMSS:
				if len(v) >= 2 {
					c.MSS = nl.NativeEndian().Uint16(v)
				}
			case tcpMetricsAttrFopenSynDrops:
				if len(v) >= 2 {
					c.SYNDrops = nl.NativeEndian().Uint16(v)
				}
			case tcpMetricsAttrFopenCookie:
				c.Cookie = append([]byte(nil), v...)
			}
		}
		if len(c.Cookie) == 0 || !c.Dest.IsValid() {
			continue
		}
		c.fill()
		out = append(out, c)
	}
	return out, err
}

// Flush makes the kernel forget its cached metrics — TFO cookie,
// remembered MSS, RTT estimates — for dest, or for every destination when
// dest is the zero Addr, in the calling thread's namespace. The next
// connection to a flushed server starts cold: it asks for a cookie and
// sends no data in the SYN. It needs root / CAP_NET_ADMIN: without, the
// error wraps sysctl.ErrPrivilege. When the kernel holds nothing for dest the
// error wraps ErrNoCookie.
func Flush(dest netip.Addr) error {
	id, err := tcpMetricsFamily()
	if err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(int(id), unix.NLM_F_ACK)
	req.AddData(&nl.Genlmsg{Command: tcpMetricsCmdDel, Version: tcpMetricsGenlVersion})
	what := "all destinations"
	if dest.IsValid() {
		dest = dest.Unmap()
		what = dest.String()
		if dest.Is4() {
			a := dest.As4()
			req.AddData(nl.NewRtAttr(tcpMetricsAttrAddrIPv4, a[:]))
		} else {
			a := dest.As16()
			req.AddData(nl.NewRtAttr(tcpMetricsAttrAddrIPv6, a[:]))
		}
	}
	if _, err := req.Execute(unix.NETLINK_GENERIC, 0); err != nil {
		switch {
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return fmt.Errorf("flush TCP metrics of %s: %w", what, sysctl.ErrPrivilege)
		case errors.Is(err, unix.ESRCH), errors.Is(err, unix.ENOENT):
			return fmt.Errorf("flush TCP metrics of %s: %w", what, ErrNoCookie)
		}
		return fmt.Errorf("flush TCP metrics of %s: %w", what, err)
	}
	return nil
}
