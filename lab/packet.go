package lab

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TCP option kinds and flags the fault rules look at (the kernel's
// include/net/tcp.h and include/net/tcp.h TCPHDR_*; RFC 7413 §4.1.1 and
// RFC 6994 for the experimental form).
const (
	tcpOptEnd          = 0      // TCPOPT_EOL
	tcpOptNOP          = 1      // TCPOPT_NOP
	tcpOptFastOpen     = 34     // TCPOPT_FASTOPEN
	tcpOptExp          = 254    // TCPOPT_EXP
	tcpOptFastOpenMagc = 0xF989 // TCPOPT_FASTOPEN_MAGIC

	tcpFlagSYN = 0x02 // TCPHDR_SYN
	tcpFlagACK = 0x10 // TCPHDR_ACK

	protoTCP = 6 // IPPROTO_TCP
)

// segment is what the fault rules need to know about a packet: parsed in
// place, with no allocation.
type segment struct {
	tcp      bool
	v6       bool
	tcpOff   int // offset of the TCP header in the packet
	tcpLen   int // TCP header + payload length
	hdrLen   int // TCP header length
	flags    byte
	srcPort  uint16
	dstPort  uint16
	tfoOff   int // offset of the TFO option in the packet, 0 if none
	tfoLen   int
	tfoValid bool // a cookie, not only a request
}

func (s *segment) payload() bool { return s.tcpLen > s.hdrLen }
func (s *segment) syn() bool     { return s.tcp && s.flags&(tcpFlagSYN|tcpFlagACK) == tcpFlagSYN }
func (s *segment) synack() bool {
	return s.tcp && s.flags&(tcpFlagSYN|tcpFlagACK) == tcpFlagSYN|tcpFlagACK
}

// parseSegment finds the TCP header of an IPv4 or IPv6 packet (unfragmented,
// no IPv6 extension headers) and the TFO option in it.
func parseSegment(p []byte) (s segment) {
	if len(p) < 1 {
		return s
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) < ipv4.HeaderLen {
			return s
		}
		ihl := int(p[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(p[2:4]))
		frag := binary.BigEndian.Uint16(p[6:8])
		if p[9] != protoTCP || ihl < ipv4.HeaderLen || total > len(p) || total < ihl || frag&0x3fff != 0 {
			return s
		}
		s.tcpOff, s.tcpLen = ihl, total-ihl
	case 6:
		if len(p) < ipv6.HeaderLen || p[6] != protoTCP {
			return s
		}
		plen := int(binary.BigEndian.Uint16(p[4:6]))
		if ipv6.HeaderLen+plen > len(p) {
			return s
		}
		s.v6 = true
		s.tcpOff, s.tcpLen = ipv6.HeaderLen, plen
	default:
		return s
	}
	if s.tcpLen < 20 {
		return s
	}
	t := p[s.tcpOff : s.tcpOff+s.tcpLen]
	s.hdrLen = int(t[12]>>4) * 4
	if s.hdrLen < 20 || s.hdrLen > len(t) {
		return s
	}
	s.tcp = true
	s.srcPort = binary.BigEndian.Uint16(t[0:2])
	s.dstPort = binary.BigEndian.Uint16(t[2:4])
	s.flags = t[13]
	opts := t[20:s.hdrLen]
	for i := 0; i < len(opts); {
		kind := opts[i]
		if kind == tcpOptEnd {
			break
		}
		if kind == tcpOptNOP {
			i++
			continue
		}
		if i+1 >= len(opts) {
			break
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			break
		}
		switch {
		case kind == tcpOptFastOpen:
			s.tfoOff, s.tfoLen, s.tfoValid = s.tcpOff+20+i, l, l > 2
		case kind == tcpOptExp && l >= 4 && binary.BigEndian.Uint16(opts[i+2:i+4]) == tcpOptFastOpenMagc:
			s.tfoOff, s.tfoLen, s.tfoValid = s.tcpOff+20+i, l, l > 4
		}
		if s.tfoOff != 0 {
			break
		}
		i += l
	}
	return s
}

// matches reports whether the segment fits m.
func (m *Match) matches(s *segment) bool {
	if !m.tcp() {
		return true
	}
	if !s.tcp {
		return false
	}
	switch {
	case m.SYN && !s.syn(),
		m.SYNACK && !s.synack(),
		m.Payload && !s.payload(),
		m.FastOpen && s.tfoOff == 0,
		m.Cookie && !s.tfoValid,
		m.Port != 0 && s.srcPort != m.Port && s.dstPort != m.Port:
		return false
	}
	return true
}

// stripFastOpen overwrites every TFO option of the packet with NOPs and
// recomputes the TCP checksum. It reports whether anything changed.
func stripFastOpen(p []byte) bool {
	changed := false
	for {
		s := parseSegment(p)
		if !s.tcp || s.tfoOff == 0 {
			break
		}
		for i := s.tfoOff; i < s.tfoOff+s.tfoLen; i++ {
			p[i] = tcpOptNOP
		}
		changed = true
	}
	if changed {
		s := parseSegment(p)
		setTCPChecksum(p, &s)
	}
	return changed
}

// setTCPChecksum recomputes the TCP checksum over the pseudo-header,
// header and payload (RFC 793 §3.1, RFC 8200 §8.1).
func setTCPChecksum(p []byte, s *segment) {
	t := p[s.tcpOff : s.tcpOff+s.tcpLen]
	t[16], t[17] = 0, 0
	var sum uint32
	if s.v6 {
		sum = sumBytes(sum, p[8:40]) // source and destination
	} else {
		sum = sumBytes(sum, p[12:20])
	}
	sum += protoTCP + uint32(s.tcpLen)
	sum = sumBytes(sum, t)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(t[16:18], ^uint16(sum))
}

func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// hostAddrs returns the addresses of a host of the lab.
func hostAddrs(client bool) (v4, v6 netip.Addr) {
	if client {
		return ClientIPv4, ClientIPv6
	}
	return ServerIPv4, ServerIPv6
}

// ClientAddr is the client's address on the link (IPv6 if v6).
func (l *Lab) ClientAddr(v6 bool) netip.Addr {
	a4, a6 := hostAddrs(true)
	if v6 {
		return a6
	}
	return a4
}

// ServerAddr is the server's address on the link (IPv6 if v6).
func (l *Lab) ServerAddr(v6 bool) netip.Addr {
	a4, a6 := hostAddrs(false)
	if v6 {
		return a6
	}
	return a4
}

// Config returns the lab's configuration with defaults filled in.
func (l *Lab) Config() Config { return l.cfg }
