package trace

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/fastopen/fastopen/sysctl"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
)

// Ring geometry: 16 blocks of 256 KiB hold a burst of full-size (even
// GSO) packets; a block is handed over after blockTimeout even if not
// full, and a read gives up after pollTimeout so Stop is noticed.
const (
	ringBlockSize = 256 << 10
	ringBlocks    = 16
	blockTimeout  = 5 * time.Millisecond
	pollTimeout   = 50 * time.Millisecond
)

// privilegeError says that an operation needs CAP_NET_RAW (not the
// CAP_NET_ADMIN sysctl.ErrPrivilege names); it matches sysctl.ErrPrivilege
// and the system's error.
type privilegeError struct {
	op    string
	cause error
}

func (e *privilegeError) Error() string   { return e.op + " needs root / CAP_NET_RAW (run with sudo)" }
func (e *privilegeError) Unwrap() []error { return []error{sysctl.ErrPrivilege, e.cause} }

type ringSource struct{ tp *afpacket.TPacket }

func (r ringSource) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := r.tp.ReadPacketData()
	if errors.Is(err, afpacket.ErrTimeout) {
		return nil, ci, errTimeout
	}
	return data, ci, err
}

func (r ringSource) Dropped() int {
	_, v3, err := r.tp.SocketStats()
	if err != nil {
		return 0
	}
	return int(v3.Drops())
}

func (r ringSource) Close() { r.tp.Close() }

// linkOf finds the interface in the calling thread's namespace and tells
// how its frames look.
func linkOf(name string) (lt layers.LinkType, loopback bool, err error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return 0, false, fmt.Errorf("interface %q not found in this network namespace (list them with `ip link`)", name)
		}
		return 0, false, fmt.Errorf("look up interface %q: %w", name, err)
	}
	attrs := link.Attrs()
	if attrs.Flags&net.FlagUp == 0 {
		return 0, false, fmt.Errorf("interface %q is down (bring it up with `ip link set %s up`)", name, name)
	}
	switch attrs.EncapType {
	case "loopback":
		return layers.LinkTypeEthernet, true, nil
	case "ether":
		return layers.LinkTypeEthernet, false, nil
	}
	// TUN devices ("none") and tunnels carry bare IP packets.
	return layers.LinkTypeRaw, false, nil
}

func openSource(iface string, f Filter, snaplen int) (source, layers.LinkType, error) {
	lt, loopback, err := linkOf(iface)
	if err != nil {
		return nil, 0, err
	}
	prog, err := f.Program(lt, snaplen, loopback)
	if err != nil {
		return nil, 0, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, 0, fmt.Errorf("assemble filter %q: %w", f, err)
	}
	sockType := afpacket.SocketRaw
	if lt == layers.LinkTypeRaw {
		// A cooked socket hands over the packet from the IP header on,
		// whatever link header the device has.
		sockType = afpacket.SocketDgram
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		sockType,
		afpacket.TPacketVersion3,
		afpacket.OptBlockSize(ringBlockSize),
		afpacket.OptNumBlocks(ringBlocks),
		afpacket.OptBlockTimeout(blockTimeout),
		afpacket.OptPollTimeout(pollTimeout),
	)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, 0, &privilegeError{op: "capture on " + iface + ": opening a packet socket", cause: err}
		}
		return nil, 0, fmt.Errorf("capture on %s: %w", iface, err)
	}
	if err := tp.SetBPF(raw); err != nil {
		tp.Close()
		return nil, 0, fmt.Errorf("capture on %s: attach filter %q: %w", iface, f, err)
	}
	return ringSource{tp}, lt, nil
}
