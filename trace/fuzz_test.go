package trace

import (
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// realFrames returns the frames of testdata/tfo-lo.pcap: a cold and a
// warm TFO exchange captured on a namespace's loopback by `fastopen trace
// -w` around `fastopen serve` and `fastopen send --count 2`.
func realFrames(t testing.TB) [][]byte {
	f, err := os.Open("testdata/tfo-lo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, data)
	}
}

func TestReadFileGolden(t *testing.T) {
	evs, flows, err := ReadFile("testdata/tfo-lo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 18 || len(flows) != 2 {
		t.Fatalf("%d events, %d connections; want 18 and 2", len(evs), len(flows))
	}
	want := []string{
		"SYN + TFO cookie request",
		"SYN-ACK + cookie fc9632aab03e4ee5",
		"ACK (handshake complete)",
	}
	for i, w := range want {
		if evs[i].Note != w {
			t.Errorf("event %d: %q, want %q", i+1, evs[i].Note, w)
		}
	}
	if evs[10].Note != "SYN + cookie + 6 bytes data" || evs[11].Note != "SYN-ACK acks the SYN data (TFO accepted)" {
		t.Errorf("warm handshake: %q, %q", evs[10].Note, evs[11].Note)
	}
	if flows[0].Outcome != CookieGranted || flows[1].Outcome != Accepted || flows[1].CookieSent.String() != "fc9632aab03e4ee5" {
		t.Errorf("flows %+v", flows)
	}
}

func TestReadErrors(t *testing.T) {
	if _, _, err := ReadFile("testdata/missing.pcap"); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := ReadFile("fuzz_test.go"); err == nil {
		t.Error("a Go file read as a capture")
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// FuzzDecode feeds arbitrary frames to Decode and a Tracker: errors are
// fine, panics are not, and whatever decodes must be self-consistent.
func FuzzDecode(f *testing.F) {
	for _, fr := range realFrames(f) {
		f.Add(fr, uint16(layers.LinkTypeEthernet))
		f.Add(fr[14:], uint16(layers.LinkTypeRaw))
		f.Add(fr[:len(fr)/2], uint16(layers.LinkTypeEthernet)) // truncated
	}
	for _, s := range []seg{
		{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: SYN, opts: []layers.TCPOption{expReq}},
		{v6: true, src: "fd00::1", dst: "fd00::2", sport: 1, dport: 2, flags: SYN, opts: []layers.TCPOption{expCook}, payload: []byte("hi")},
		{src: "10.0.0.2", dst: "10.0.0.1", sport: 2, dport: 1, flags: SYN | ACK, opts: []layers.TCPOption{tfoCook, mss1460}},
	} {
		fr := build(f, layers.LinkTypeRaw, s)
		f.Add(fr, uint16(layers.LinkTypeRaw))
		bad := append([]byte(nil), fr...)
		bad[len(bad)-len(s.payload)-1] = 0xff // last option byte: a bogus length
		f.Add(bad, uint16(layers.LinkTypeRaw))
	}
	f.Fuzz(func(t *testing.T, frame []byte, lt uint16) {
		p, err := Decode(frame, layers.LinkType(lt))
		if err != nil {
			return
		}
		if p.PayloadLen < 0 || len(p.Payload) > len(frame) {
			t.Fatalf("payload length %d, captured %d of a %d-byte frame", p.PayloadLen, len(p.Payload), len(frame))
		}
		if o := p.FastOpen; o != nil && len(o.Cookie) != 0 && (len(o.Cookie) < MinCookieLen || len(o.Cookie) > MaxCookieLen) {
			t.Fatalf("cookie of %d bytes accepted", len(o.Cookie))
		}
		_ = p.String()
		tr := NewTracker(0)
		now := time.Unix(0, 0)
		tr.Add(now, p)
		tr.Add(now.Add(time.Millisecond), p)
		_ = tr.Flows()
	})
}
