package trace

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// seg describes a synthetic TCP segment for tests.
type seg struct {
	v6       bool
	src, dst string
	sport    uint16
	dport    uint16
	flags    Flags
	seq, ack uint32
	opts     []layers.TCPOption
	payload  []byte
}

var (
	cookie8  = []byte{0x22, 0xaa, 0x94, 0xe8, 0xee, 0xba, 0xed, 0xdd}
	tfoReq   = layers.TCPOption{OptionType: OptionKindFastOpen, OptionLength: 2}
	tfoCook  = layers.TCPOption{OptionType: OptionKindFastOpen, OptionLength: 10, OptionData: cookie8}
	expReq   = layers.TCPOption{OptionType: OptionKindExperimental, OptionLength: 4, OptionData: []byte{0xf9, 0x89}}
	expCook  = layers.TCPOption{OptionType: OptionKindExperimental, OptionLength: 12, OptionData: append([]byte{0xf9, 0x89}, cookie8...)}
	mss1460  = layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}
	otherExp = layers.TCPOption{OptionType: OptionKindExperimental, OptionLength: 4, OptionData: []byte{0x12, 0x34}}
)

// build serializes s with the given link type (Ethernet or raw IP).
func build(t testing.TB, lt layers.LinkType, s seg) []byte {
	t.Helper()
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport),
		Seq: s.seq, Ack: s.ack, Window: 65535, Options: s.opts,
		FIN: s.flags.Has(FIN), SYN: s.flags.Has(SYN), RST: s.flags.Has(RST),
		PSH: s.flags.Has(PSH), ACK: s.flags.Has(ACK),
	}
	var ip gopacket.NetworkLayer
	et := layers.EthernetTypeIPv4
	if s.v6 {
		et = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.ParseIP(s.src), DstIP: net.ParseIP(s.dst)}
	} else {
		ip = &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(s.src).To4(), DstIP: net.ParseIP(s.dst).To4()}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	ls := []gopacket.SerializableLayer{ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(s.payload)}
	if lt == layers.LinkTypeEthernet {
		eth := &layers.Ethernet{SrcMAC: make(net.HardwareAddr, 6), DstMAC: make(net.HardwareAddr, 6), EthernetType: et}
		ls = append([]gopacket.SerializableLayer{eth}, ls...)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func TestDecodeFastOpenOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lt      layers.LinkType
		s       seg
		note    string
		kind    uint8
		request bool
		cookie  []byte
	}{
		{"IANA request", layers.LinkTypeEthernet,
			seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 8000, flags: SYN, seq: 100, opts: []layers.TCPOption{mss1460, tfoReq}},
			"SYN + TFO cookie request", OptionKindFastOpen, true, nil},
		{"IANA cookie in SYN-ACK", layers.LinkTypeEthernet,
			seg{src: "10.0.0.2", dst: "10.0.0.1", sport: 8000, dport: 40000, flags: SYN | ACK, seq: 500, ack: 101, opts: []layers.TCPOption{mss1460, tfoCook}},
			"SYN-ACK + cookie 22aa94e8eebaeddd", OptionKindFastOpen, false, cookie8},
		{"IANA cookie and data, raw IPv6", layers.LinkTypeRaw,
			seg{v6: true, src: "fd00::1", dst: "fd00::2", sport: 40000, dport: 8000, flags: SYN, seq: 100, opts: []layers.TCPOption{tfoCook}, payload: []byte("hello!")},
			"SYN + cookie + 6 bytes data", OptionKindFastOpen, false, cookie8},
		{"experimental request", layers.LinkTypeRaw,
			seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 8000, flags: SYN, seq: 100, opts: []layers.TCPOption{expReq}},
			"SYN + TFO cookie request", OptionKindExperimental, true, nil},
		{"experimental cookie", layers.LinkTypeEthernet,
			seg{v6: true, src: "fd00::2", dst: "fd00::1", sport: 8000, dport: 40000, flags: SYN | ACK, seq: 500, ack: 101, opts: []layers.TCPOption{otherExp, expCook}},
			"SYN-ACK + cookie 22aa94e8eebaeddd", OptionKindExperimental, false, cookie8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(build(t, tc.lt, tc.s), tc.lt)
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tc.note {
				t.Errorf("note %q, want %q", p.String(), tc.note)
			}
			if p.FastOpen == nil {
				t.Fatal("no TFO option decoded")
			}
			if p.FastOpen.Kind != tc.kind || p.FastOpen.Request() != tc.request || !bytes.Equal(p.FastOpen.Cookie, tc.cookie) {
				t.Errorf("option %+v, want kind %d request %v cookie %x", *p.FastOpen, tc.kind, tc.request, tc.cookie)
			}
			if p.Src.Port() != tc.s.sport || p.Dst.Port() != tc.s.dport || p.Seq != tc.s.seq || p.PayloadLen != len(tc.s.payload) {
				t.Errorf("header %+v does not match %+v", p, tc.s)
			}
		})
	}
}

func TestDecodePlain(t *testing.T) {
	frame := build(t, layers.LinkTypeEthernet, seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: SYN, opts: []layers.TCPOption{otherExp, mss1460}})
	p, err := Decode(frame, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if p.FastOpen != nil || p.MSS != 1460 || p.String() != "SYN" {
		t.Errorf("plain SYN decoded as %q, option %v, MSS %d", p, p.FastOpen, p.MSS)
	}
}

func TestDecodeTruncatedPayloadKeepsLength(t *testing.T) {
	frame := build(t, layers.LinkTypeEthernet, seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: SYN, opts: []layers.TCPOption{tfoCook}, payload: make([]byte, 1000)})
	p, err := Decode(frame[:100], layers.LinkTypeEthernet) // what a 100-byte snap length keeps
	if err != nil {
		t.Fatal(err)
	}
	if p.PayloadLen != 1000 || p.String() != "SYN + cookie + 1000 bytes data" {
		t.Errorf("payload length %d (%q), want 1000 from the IP header", p.PayloadLen, p)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := build(t, layers.LinkTypeRaw, seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: SYN, opts: []layers.TCPOption{mss1460, tfoCook}})
	const tcpOpts = 20 + 20 // IPv4 header + fixed TCP header: options start here
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	for _, tc := range []struct {
		name, want string
		frame      []byte
		lt         layers.LinkType
	}{
		{"empty", "empty", nil, layers.LinkTypeRaw},
		{"short IP header", "IPv4", good[:10], layers.LinkTypeRaw},
		{"short TCP header", "TCP", good[:30], layers.LinkTypeRaw},
		{"options cut off", "TCP", good[:45], layers.LinkTypeRaw},
		{"bad IP version", "IP version", mutate(func(b []byte) { b[0] = 0x55 }), layers.LinkTypeRaw},
		{"option past the end", "claims length", mutate(func(b []byte) { b[tcpOpts+5] = 40 }), layers.LinkTypeRaw},
		{"option length 1", "claims length", mutate(func(b []byte) { b[tcpOpts+5] = 1 }), layers.LinkTypeRaw},
		{"cookie too short", "cookie", mutate(func(b []byte) { b[tcpOpts+5] = 5 }), layers.LinkTypeRaw},
		{"bad MSS length", "MSS", mutate(func(b []byte) { b[tcpOpts+1] = 3 }), layers.LinkTypeRaw},
		{"unsupported link", "link type", good, layers.LinkTypeFDDI},
		{"short Ethernet", "Ethernet", good[:10], layers.LinkTypeEthernet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.frame, tc.lt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// Two TFO options in one segment.
	twice := build(t, layers.LinkTypeRaw, seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: SYN, opts: []layers.TCPOption{tfoReq, tfoReq}})
	if _, err := Decode(twice, layers.LinkTypeRaw); err == nil {
		t.Error("two TFO options decoded without error")
	}
	// Every prefix of a valid frame decodes or fails cleanly.
	for i := range good {
		Decode(good[:i], layers.LinkTypeRaw)
	}
}

func TestDecodeNotTCP(t *testing.T) {
	udp := &layers.UDP{SrcPort: 1, DstPort: 2}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ip, udp); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(buf.Bytes(), layers.LinkTypeRaw); !errors.Is(err, ErrNotTCP) {
		t.Errorf("UDP: %v, want ErrNotTCP", err)
	}
}

// handshake returns the segments of a connection: cold (cookie request)
// or warm (cookie and data), and whether the server takes the data.
func handshake(t *testing.T, warm, accept bool, ackFirst time.Duration) []struct {
	at    time.Duration
	frame []byte
} {
	c := seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 8000}
	s := seg{src: "10.0.0.2", dst: "10.0.0.1", sport: 8000, dport: 40000}
	syn, synack, ack, data, resp := c, s, c, c, s
	syn.flags, syn.seq = SYN, 1000
	synack.flags, synack.seq, synack.ack = SYN|ACK, 5000, 1001
	if warm {
		syn.opts, syn.payload = []layers.TCPOption{expCook}, []byte("hello!")
		if accept {
			synack.ack = 1007
		}
	} else {
		syn.opts = []layers.TCPOption{expReq}
		synack.opts = []layers.TCPOption{expCook}
	}
	ack.flags, ack.seq, ack.ack = ACK, synack.ack, 5001
	data.flags, data.seq, data.ack, data.payload = ACK|PSH, 1001, 5001, []byte("hello!")
	resp.flags, resp.seq, resp.ack, resp.payload = ACK|PSH, 5001, 1007, []byte("hi")
	out := []struct {
		at    time.Duration
		frame []byte
	}{
		{0, build(t, layers.LinkTypeRaw, syn)},
		{20 * time.Millisecond, build(t, layers.LinkTypeRaw, synack)},
		{20*time.Millisecond + ackFirst, build(t, layers.LinkTypeRaw, ack)},
	}
	if !warm || !accept {
		out = append(out, struct {
			at    time.Duration
			frame []byte
		}{20 * time.Millisecond, build(t, layers.LinkTypeRaw, data)})
		out = append(out, struct {
			at    time.Duration
			frame []byte
		}{40 * time.Millisecond, build(t, layers.LinkTypeRaw, resp)})
	} else {
		out = append(out, struct {
			at    time.Duration
			frame []byte
		}{20 * time.Millisecond, build(t, layers.LinkTypeRaw, resp)})
	}
	return out
}

func TestTracker(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		warm, accept bool
		rtt          time.Duration
		outcome      Outcome
		notes        []string
		wantRTTs     float64
	}{
		{"cold", false, false, 0, CookieGranted, []string{"SYN + TFO cookie request", "SYN-ACK + cookie 22aa94e8eebaeddd", "ACK (handshake complete)", "6 bytes data"}, 2},
		{"warm", true, true, 0, Accepted, []string{"SYN + cookie + 6 bytes data", "SYN-ACK acks the SYN data (TFO accepted)", "ACK (handshake complete)"}, 1},
		{"refused", true, false, 10 * time.Millisecond, Refused, []string{"SYN + cookie + 6 bytes data", "SYN-ACK acks only the SYN (data will be retransmitted — TFO refused)", "ACK (handshake complete)", "6 bytes data (the refused SYN data, sent again)"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(tc.rtt)
			var got []string
			for _, s := range handshake(t, tc.warm, tc.accept, 0) {
				p, err := Decode(s.frame, layers.LinkTypeRaw)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, tr.Add(t0.Add(s.at), p).Note)
			}
			for i, w := range tc.notes {
				if i >= len(got) || got[i] != w {
					t.Fatalf("notes %q, want %q first", got, tc.notes)
				}
			}
			fl := tr.Flows()
			if len(fl) != 1 {
				t.Fatalf("%d flows", len(fl))
			}
			f := fl[0]
			wantRTT := tc.rtt
			if wantRTT == 0 {
				wantRTT = 20 * time.Millisecond
			}
			if f.Outcome != tc.outcome || f.RTT != wantRTT || f.RTTEstimated != (tc.rtt == 0) || f.FirstServerDataRTTs != tc.wantRTTs {
				t.Errorf("flow %+v: want outcome %s, RTT %v, first server byte at %.1f RTT", f, tc.outcome, wantRTT, tc.wantRTTs)
			}
			if f.Client.String() != "10.0.0.1:40000" || f.Server.String() != "10.0.0.2:8000" || f.Handshake != 20*time.Millisecond {
				t.Errorf("flow %+v", f)
			}
		})
	}
}

func TestTrackerRetransmittedSYNAndMidstream(t *testing.T) {
	t0 := time.Now()
	tr := NewTracker(0)
	syn := build(t, layers.LinkTypeRaw, seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: SYN, seq: 7})
	other := build(t, layers.LinkTypeRaw, seg{src: "10.0.0.3", dst: "10.0.0.2", sport: 5, dport: 2, flags: ACK, payload: []byte("x")})
	for i, f := range [][]byte{syn, syn, other} {
		p, err := Decode(f, layers.LinkTypeRaw)
		if err != nil {
			t.Fatal(err)
		}
		ev := tr.Add(t0.Add(time.Duration(i)*time.Second), p)
		switch i {
		case 1:
			if ev.Note != "SYN (retransmission)" || ev.Flow != 1 {
				t.Errorf("second SYN: %+v", ev)
			}
		case 2:
			if ev.Flow != 0 || ev.Dir != Unknown || ev.Note != "1 byte data" {
				t.Errorf("mid-stream segment: %+v", ev)
			}
		}
	}
	fl := tr.Flows()
	if len(fl) != 1 || fl[0].SYNRetransmits != 1 || fl[0].Outcome != Incomplete {
		t.Errorf("flows %+v", fl)
	}
}
