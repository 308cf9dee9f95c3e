package lab

import (
	"bytes"
	"math"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// buildSYN serialises a SYN (or SYN-ACK) with the given TCP options and
// payload, with correct checksums, using gopacket.
func buildSYN(t *testing.T, v6, ack bool, opts []layers.TCPOption, payload []byte) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, SYN: true, ACK: ack, Window: 64240, Options: opts}
	var ip gopacket.NetworkLayer
	var ipL gopacket.SerializableLayer
	if v6 {
		l := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: net.ParseIP("fd00:f0::1"), DstIP: net.ParseIP("fd00:f0::2")}
		ip, ipL = l, l
	} else {
		l := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: net.IPv4(10, 200, 0, 1), DstIP: net.IPv4(10, 200, 0, 2)}
		ip, ipL = l, l
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ipL, tcp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checksumOK recomputes the TCP checksum of p with gopacket.
func checksumOK(t *testing.T, p []byte, v6 bool) bool {
	t.Helper()
	first := layers.LayerTypeIPv4
	if v6 {
		first = layers.LayerTypeIPv6
	}
	pkt := gopacket.NewPacket(p, first, gopacket.Default)
	tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		t.Fatalf("no TCP layer: %v", pkt)
	}
	if err := tcp.SetNetworkLayerForChecksum(pkt.NetworkLayer()); err != nil {
		t.Fatal(err)
	}
	sum, err := tcp.ComputeChecksum()
	if err != nil {
		t.Fatal(err)
	}
	return sum == 0 || sum == tcp.Checksum
}

var (
	mss        = layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}
	cookieReq  = layers.TCPOption{OptionType: 34, OptionLength: 2}
	cookie     = layers.TCPOption{OptionType: 34, OptionLength: 10, OptionData: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	expCookie  = layers.TCPOption{OptionType: 254, OptionLength: 12, OptionData: []byte{0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8}}
	expRequest = layers.TCPOption{OptionType: 254, OptionLength: 4, OptionData: []byte{0xf9, 0x89}}
	otherExp   = layers.TCPOption{OptionType: 254, OptionLength: 4, OptionData: []byte{0x12, 0x34}}
)

func TestParseSegment(t *testing.T) {
	for _, tc := range []struct {
		name                string
		v6, ack             bool
		opts                []layers.TCPOption
		payload             string
		syn, synack, payl   bool
		tfo, cookieAttached bool
	}{
		{name: "plain SYN", opts: []layers.TCPOption{mss}, syn: true},
		{name: "cookie request", opts: []layers.TCPOption{mss, cookieReq}, syn: true, tfo: true},
		{name: "SYN with cookie and data v6", v6: true, opts: []layers.TCPOption{mss, cookie}, payload: "hello", syn: true, payl: true, tfo: true, cookieAttached: true},
		{name: "SYN-ACK with cookie", ack: true, opts: []layers.TCPOption{mss, cookie}, synack: true, tfo: true, cookieAttached: true},
		{name: "experimental cookie", opts: []layers.TCPOption{expCookie}, syn: true, tfo: true, cookieAttached: true},
		{name: "experimental request", v6: true, opts: []layers.TCPOption{expRequest}, syn: true, tfo: true},
		{name: "other experiment", opts: []layers.TCPOption{otherExp}, syn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := buildSYN(t, tc.v6, tc.ack, tc.opts, []byte(tc.payload))
			s := parseSegment(p)
			if !s.tcp || s.v6 != tc.v6 || s.syn() != tc.syn || s.synack() != tc.synack || s.payload() != tc.payl ||
				(s.tfoOff != 0) != tc.tfo || s.tfoValid != tc.cookieAttached || s.srcPort != 40000 || s.dstPort != 80 {
				t.Errorf("parsed %+v", s)
			}
		})
	}
	if s := parseSegment([]byte{0x45, 0}); s.tcp {
		t.Error("a truncated packet parsed as TCP")
	}
	if s := parseSegment(nil); s.tcp {
		t.Error("an empty packet parsed as TCP")
	}
}

func TestStripFastOpen(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, opts := range [][]layers.TCPOption{{mss, cookie}, {cookieReq, mss}, {mss, expCookie}, {expRequest}, {cookie, expCookie}} {
			p := buildSYN(t, v6, false, opts, []byte("data"))
			orig := bytes.Clone(p)
			if !stripFastOpen(p) {
				t.Fatalf("v6=%v %v: nothing stripped", v6, opts)
			}
			if len(p) != len(orig) {
				t.Fatal("length changed")
			}
			s := parseSegment(p)
			if s.tfoOff != 0 || !s.syn() || !s.payload() {
				t.Errorf("after strip: %+v", s)
			}
			if !checksumOK(t, p, v6) {
				t.Errorf("v6=%v %v: bad TCP checksum after strip", v6, opts)
			}
			if stripFastOpen(p) {
				t.Error("stripped twice")
			}
			// The MSS survives.
			pkt := gopacket.NewPacket(p, map[bool]gopacket.LayerType{false: layers.LayerTypeIPv4, true: layers.LayerTypeIPv6}[v6], gopacket.Default)
			tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
			for _, o := range tcp.Options {
				if o.OptionType == 34 || o.OptionType == 254 && bytes.HasPrefix(o.OptionData, []byte{0xf9, 0x89}) {
					t.Errorf("TFO option still present: %v", tcp.Options)
				}
			}
		}
	}
	p := buildSYN(t, false, false, []layers.TCPOption{mss, otherExp}, nil)
	if stripFastOpen(p) {
		t.Error("stripped a non-TFO experimental option")
	}
}

func TestMatch(t *testing.T) {
	synData := parseSegment(buildSYN(t, false, false, []layers.TCPOption{cookie}, []byte("x")))
	synReq := parseSegment(buildSYN(t, false, false, []layers.TCPOption{cookieReq}, nil))
	synackCookie := parseSegment(buildSYN(t, true, true, []layers.TCPOption{cookie}, nil))
	notTCP := parseSegment([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 200, 0, 1, 10, 200, 0, 2})
	for _, tc := range []struct {
		rule Rule
		seg  segment
		want bool
	}{
		{DropSYNData(), synData, true},
		{DropSYNData(), synReq, false},
		{DropSYNData(), synackCookie, false},
		{DropSYNACKCookie(), synackCookie, true},
		{DropSYNACKCookie(), synData, false},
		{StripSYNFastOpen(), synReq, true},
		{Rule{Match: Match{Port: 80}}, synReq, true},
		{Rule{Match: Match{Port: 81}}, synReq, false},
		{Rule{Match: Match{SYN: true}}, notTCP, false},
		{Rule{}, notTCP, true},
	} {
		if got := tc.rule.Match.matches(&tc.seg); got != tc.want {
			t.Errorf("%s on %+v: %v, want %v", tc.rule.Label(), tc.seg, got, tc.want)
		}
	}
}

func TestParseFault(t *testing.T) {
	for in, want := range map[string][]string{
		"drop-syn-data":      {"drop-syn-data"},
		"strip-tfo":          {"strip-tfo-syn", "strip-tfo-synack"},
		"drop-synack-cookie": {"drop-synack-cookie"},
		"dup-syn:20ms":       {"dup-syn"},
		"blackhole:10":       {"blackhole-up-after-10", "blackhole-down-after-10"},
		"blackhole-down:3":   {"blackhole-down-after-3"},
	} {
		rs, err := ParseFault(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Label())
		}
		if len(got) != len(want) || got[0] != want[0] {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
	if rs, _ := ParseFault("dup-syn:20ms"); rs[0].Delay != 20*time.Millisecond {
		t.Errorf("dup-syn delay %v", rs[0].Delay)
	}
	for _, bad := range []string{"nope", "blackhole", "blackhole:x", "dup-syn:fast", "drop-syn-data:1"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"100mbit": 100e6, "1g": 1e9, "500k": 500e3, "250000": 250000, "1.5Mbps": 1.5e6} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fast", "-1m", "10x"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{RTT: 100 * time.Millisecond, Up: LinkConfig{Delay: 10 * time.Millisecond}}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.Up.Delay != 10*time.Millisecond || c.Down.Delay != 50*time.Millisecond || c.MTU != DefaultMTU {
		t.Errorf("defaults: %+v", c)
	}
	for _, bad := range []Config{{RTT: -1}, {MTU: 100}, {MTU: 70000}, {Up: LinkConfig{Loss: 2}}, {Up: LinkConfig{Loss: math.NaN()}}, {Down: LinkConfig{Duplicate: math.NaN()}}, {Down: LinkConfig{DropNth: []int{0}}}, {Faults: []Rule{{Action: 99}}}} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	h.add(50 * time.Millisecond)
	s := h.summary()
	if s.Samples != 1001 || s.P50 < 499*time.Microsecond || s.P50 > 502*time.Microsecond ||
		s.P99 < 985*time.Microsecond || s.P99 > 1000*time.Microsecond || s.Max != 50*time.Millisecond {
		t.Errorf("summary %+v", s)
	}
}
