// Package trace captures and decodes TCP handshakes and explains TCP Fast
// Open (RFC 7413) in plain words: which SYN asked for a cookie, which SYN-ACK
// granted one, which SYN carried data, and whether the server accepted it.
//
// It captures live through an AF_PACKET socket (gopacket's pure-Go afpacket,
// no libpcap) with an in-kernel BPF filter, so only matching packets are
// copied to user space; it writes and reads pcap and pcapng files that
// tshark and Wireshark open with the TFO fields decoded.
//
// The pieces can be used on their own: Decode turns one frame into a
// Packet; a Tracker follows connections and turns packets into annotated
// Events and per-connection Flow summaries; Start runs a live Capture;
// ReadFile decodes a saved capture the same way; Printer writes events and
// summaries for people, Writer writes capture files. `fastopen trace` is
// built on them.
//
// Live capture is Linux only and needs root / CAP_NET_RAW (the error then
// wraps sysctl.ErrPrivilege); reading saved captures needs neither.
package trace

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TCP option kinds and the experimental-option magic that carry a TFO
// cookie (RFC 7413 section 4.1.1; RFC 6994 for the experimental form).
const (
	// OptionKindFastOpen is the IANA-assigned TCP option kind of TFO.
	OptionKindFastOpen = 34
	// OptionKindExperimental is the shared experimental option kind that
	// early TFO implementations used with ExperimentalMagic.
	OptionKindExperimental = 254
	// ExperimentalMagic is the 16-bit ExID that marks a kind-254 option as
	// a TFO cookie option.
	ExperimentalMagic = 0xF989
	// MinCookieLen and MaxCookieLen bound a valid TFO cookie (RFC 7413
	// section 4.1.1); a zero-length cookie is a cookie request.
	MinCookieLen = 4
	// MaxCookieLen is the largest valid TFO cookie.
	MaxCookieLen = 16
)

// ErrNotTCP is returned (wrapped) by Decode for a frame that is valid but
// carries no TCP segment (ARP, UDP, ICMP...).
var ErrNotTCP = errors.New("not a TCP segment")

// Flags are the TCP header flags of a segment.
type Flags uint8

// TCP header flags, in header bit order.
const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

var flagNames = []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

// Has reports whether all flags in f2 are set.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// String lists the set flags, e.g. "SYN|ACK".
func (f Flags) String() string {
	var parts []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// MarshalText renders the flags as String does, for JSON.
func (f Flags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Cookie is a TFO cookie. It prints and marshals as hex.
type Cookie []byte

// String renders the cookie as lowercase hex.
func (c Cookie) String() string { return hex.EncodeToString(c) }

// MarshalText renders the cookie as hex, for JSON.
func (c Cookie) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// FastOpenOption is a TFO option found in a TCP header.
type FastOpenOption struct {
	// Kind is OptionKindFastOpen (34) or OptionKindExperimental (254).
	Kind uint8 `json:"kind"`
	// Cookie is the cookie; empty means the option is a cookie request.
	Cookie Cookie `json:"cookie,omitempty"`
}

// Request reports whether the option asks for a cookie (carries none).
func (o FastOpenOption) Request() bool { return len(o.Cookie) == 0 }

// Experimental reports whether the option uses the kind-254 form.
func (o FastOpenOption) Experimental() bool { return o.Kind == OptionKindExperimental }

// Packet is one decoded TCP segment, without connection context.
type Packet struct {
	// Src and Dst are the segment's endpoints.
	Src netip.AddrPort `json:"src"`
	Dst netip.AddrPort `json:"dst"`
	// Flags are the TCP header flags.
	Flags Flags `json:"flags"`
	// Seq and Ack are the raw sequence and acknowledgment numbers.
	Seq uint32 `json:"seq"`
	Ack uint32 `json:"ack"`
	// Window is the raw (unscaled) receive window.
	Window uint16 `json:"window"`
	// PayloadLen is the TCP payload length taken from the IP header, so it
	// is right even when the capture truncated the packet.
	PayloadLen int `json:"payload_len"`
	// Payload holds the captured payload bytes (possibly fewer than
	// PayloadLen when the snap length cut them off).
	Payload []byte `json:"-"`
	// FastOpen is the TFO option, nil when the segment has none.
	FastOpen *FastOpenOption `json:"fastopen,omitempty"`
	// MSS is the MSS option's value, 0 when absent.
	MSS uint16 `json:"mss,omitempty"`
}

// String describes the segment on its own, e.g. "SYN + TFO cookie request"
// or "SYN-ACK + cookie 22aa94e8eebaeddd"; a Tracker adds what needs
// connection context (whether a SYN-ACK acknowledged the SYN's data).
func (p Packet) String() string {
	var s string
	switch {
	case p.Flags.Has(SYN | ACK):
		s = "SYN-ACK"
		if p.FastOpen != nil {
			if p.FastOpen.Request() {
				s += " + empty TFO option"
			} else {
				s += " + cookie " + p.FastOpen.Cookie.String()
			}
		}
	case p.Flags.Has(SYN):
		s = "SYN"
		switch {
		case p.FastOpen == nil:
		case p.FastOpen.Request():
			s += " + TFO cookie request"
		default:
			s += " + cookie"
		}
		if p.PayloadLen > 0 {
			s += fmt.Sprintf(" + %s data", bytesWord(p.PayloadLen))
			if p.FastOpen == nil {
				s += " (no cookie)"
			}
		}
	default:
		var parts []string
		if p.Flags.Has(RST) {
			parts = append(parts, "RST")
		}
		if p.Flags.Has(FIN) {
			parts = append(parts, "FIN")
		}
		if p.PayloadLen > 0 {
			parts = append(parts, bytesWord(p.PayloadLen)+" data")
		}
		if len(parts) == 0 {
			if p.Flags.Has(ACK) {
				parts = append(parts, "ACK")
			} else {
				parts = append(parts, "segment with flags "+p.Flags.String())
			}
		}
		s = strings.Join(parts, " + ")
	}
	return s
}

func bytesWord(n int) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// Decode decodes one captured frame of the given link type (Ethernet, raw
// IP, IPv4, IPv6, Linux cooked, BSD loopback) into a Packet. It returns an
// error, never panics, for truncated or malformed input: a short header,
// a bad length, or a TCP option whose length runs past the option area or
// is impossible (including a TFO cookie of the wrong size). A frame that is
// fine but not TCP gives an error wrapping ErrNotTCP.
func Decode(frame []byte, lt layers.LinkType) (Packet, error) {
	ip, err := networkLayer(frame, lt)
	if err != nil {
		return Packet{}, err
	}
	if len(ip) == 0 {
		return Packet{}, errors.New("empty packet")
	}
	var (
		p       Packet
		seg     []byte
		tcpLen  = -1 // TCP header+payload length according to IP, -1 unknown
		src, dn netip.Addr
	)
	switch ip[0] >> 4 {
	case 4:
		var v4 layers.IPv4
		if err := v4.DecodeFromBytes(ip, gopacket.NilDecodeFeedback); err != nil {
			return Packet{}, fmt.Errorf("decode IPv4 header: %w", err)
		}
		if v4.Protocol != layers.IPProtocolTCP {
			return Packet{}, fmt.Errorf("IPv4 protocol %v: %w", v4.Protocol, ErrNotTCP)
		}
		if v4.FragOffset != 0 {
			return Packet{}, fmt.Errorf("IPv4 fragment at offset %d: %w", int(v4.FragOffset)*8, ErrNotTCP)
		}
		src, _ = netip.AddrFromSlice(v4.SrcIP.To4())
		dn, _ = netip.AddrFromSlice(v4.DstIP.To4())
		seg = v4.Payload
		if l := int(v4.Length) - int(v4.IHL)*4; l >= 0 && int(v4.Length) > 0 {
			tcpLen = l
		}
	case 6:
		var v6 layers.IPv6
		if err := v6.DecodeFromBytes(ip, gopacket.NilDecodeFeedback); err != nil {
			return Packet{}, fmt.Errorf("decode IPv6 header: %w", err)
		}
		if v6.NextHeader != layers.IPProtocolTCP {
			return Packet{}, fmt.Errorf("IPv6 next header %v: %w", v6.NextHeader, ErrNotTCP)
		}
		src, _ = netip.AddrFromSlice(v6.SrcIP.To16())
		dn, _ = netip.AddrFromSlice(v6.DstIP.To16())
		seg = v6.Payload
		if v6.Length > 0 {
			tcpLen = int(v6.Length)
		}
	default:
		return Packet{}, fmt.Errorf("IP version %d: want 4 or 6", ip[0]>>4)
	}
	var tcp layers.TCP
	if err := tcp.DecodeFromBytes(seg, gopacket.NilDecodeFeedback); err != nil {
		return Packet{}, fmt.Errorf("decode TCP header: %w", err)
	}
	hdrLen := int(tcp.DataOffset) * 4
	p.Src = netip.AddrPortFrom(src, uint16(tcp.SrcPort))
	p.Dst = netip.AddrPortFrom(dn, uint16(tcp.DstPort))
	p.Flags = Flags(seg[13])
	p.Seq, p.Ack, p.Window = tcp.Seq, tcp.Ack, tcp.Window
	p.Payload = tcp.Payload
	p.PayloadLen = len(tcp.Payload)
	if tcpLen >= 0 {
		if tcpLen < hdrLen {
			return Packet{}, fmt.Errorf("IP length leaves %d bytes for a %d-byte TCP header", tcpLen, hdrLen)
		}
		p.PayloadLen = tcpLen - hdrLen
	}
	if err := parseOptions(seg[20:hdrLen], &p); err != nil {
		return Packet{}, err
	}
	return p, nil
}

// networkLayer strips the link-layer header and returns the IP packet.
func networkLayer(frame []byte, lt layers.LinkType) ([]byte, error) {
	switch lt {
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return frame, nil
	case layers.LinkTypeEthernet:
		var eth layers.Ethernet
		if err := eth.DecodeFromBytes(frame, gopacket.NilDecodeFeedback); err != nil {
			return nil, fmt.Errorf("decode Ethernet header: %w", err)
		}
		et, payload := eth.EthernetType, eth.Payload
		for et == layers.EthernetTypeDot1Q || et == layers.EthernetTypeQinQ {
			var tag layers.Dot1Q
			if err := tag.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
				return nil, fmt.Errorf("decode VLAN tag: %w", err)
			}
			et, payload = tag.Type, tag.Payload
		}
		return ipPayload(et, payload)
	case layers.LinkTypeLinuxSLL:
		var sll layers.LinuxSLL
		if err := sll.DecodeFromBytes(frame, gopacket.NilDecodeFeedback); err != nil {
			return nil, fmt.Errorf("decode Linux cooked header: %w", err)
		}
		return ipPayload(sll.EthernetType, sll.Payload)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		var lo layers.Loopback
		if err := lo.DecodeFromBytes(frame, gopacket.NilDecodeFeedback); err != nil {
			return nil, fmt.Errorf("decode loopback header: %w", err)
		}
		return lo.Payload, nil
	}
	return nil, fmt.Errorf("link type %v is not supported (want Ethernet, raw IP, Linux cooked or BSD loopback)", lt)
}

func ipPayload(et layers.EthernetType, payload []byte) ([]byte, error) {
	if et != layers.EthernetTypeIPv4 && et != layers.EthernetTypeIPv6 {
		return nil, fmt.Errorf("EtherType %v: %w", et, ErrNotTCP)
	}
	return payload, nil
}

// parseOptions walks the TCP option area. Unlike a receiving stack, which
// silently stops at a broken option, it reports the breakage: a trace is
// where malformed options must show.
func parseOptions(opts []byte, p *Packet) error {
	for i := 0; i < len(opts); {
		kind := opts[i]
		switch kind {
		case byte(layers.TCPOptionKindEndList):
			return nil
		case byte(layers.TCPOptionKindNop):
			i++
			continue
		}
		if i+1 >= len(opts) {
			return fmt.Errorf("TCP option kind %d at offset %d has no length byte", kind, i)
		}
		n := int(opts[i+1])
		if n < 2 || i+n > len(opts) {
			return fmt.Errorf("TCP option kind %d at offset %d claims length %d, %d bytes left", kind, i, n, len(opts)-i)
		}
		data := opts[i+2 : i+n]
		switch kind {
		case byte(layers.TCPOptionKindMSS):
			if len(data) != 2 {
				return fmt.Errorf("MSS option has length %d, want 4", n)
			}
			p.MSS = binary.BigEndian.Uint16(data)
		case OptionKindFastOpen:
			if err := setFastOpen(p, kind, data); err != nil {
				return err
			}
		case OptionKindExperimental:
			if len(data) >= 2 && binary.BigEndian.Uint16(data) == ExperimentalMagic {
				if err := setFastOpen(p, kind, data[2:]); err != nil {
					return err
				}
			}
		}
		i += n
	}
	return nil
}

func setFastOpen(p *Packet, kind byte, cookie []byte) error {
	if p.FastOpen != nil {
		return fmt.Errorf("two TFO options in one segment")
	}
	if n := len(cookie); n != 0 && (n < MinCookieLen || n > MaxCookieLen) {
		return fmt.Errorf("TFO option (kind %d) has a %d-byte cookie; a cookie is %d to %d bytes (or none, for a request)", kind, n, MinCookieLen, MaxCookieLen)
	}
	o := &FastOpenOption{Kind: kind}
	if len(cookie) > 0 {
		o.Cookie = append(Cookie(nil), cookie...)
	}
	p.FastOpen = o
	return nil
}
