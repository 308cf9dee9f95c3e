package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/trace"
)

// TestHTTPSHandshake labels the TLS 1.3 flights of a TFO connection whose
// SYN carried only part of the ClientHello, leaves out bare ACKs after the
// handshake, stops at the answer to the request and reports its time.
func TestHTTPSHandshake(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	ev := func(flow int, dir trace.Direction, since float64, flags trace.Flags, payload int) trace.Event {
		return trace.Event{Flow: flow, Dir: dir, Since: ms(since), Note: "segment", Packet: trace.Packet{Flags: flags, PayloadLen: payload}}
	}
	const up, down = trace.ToServer, trace.ToClient
	events := []trace.Event{
		ev(1, up, 0, trace.SYN, 1420),
		ev(2, up, 1, trace.SYN, 0), // another connection
		ev(1, down, 30, trace.SYN|trace.ACK, 0),
		ev(1, up, 30, trace.ACK, 0),
		ev(1, up, 30.1, trace.ACK, 81),
		ev(1, down, 60.2, trace.ACK, 0),
		ev(1, down, 60.3, trace.ACK, 1448),
		ev(1, down, 60.3, trace.ACK, 470),
		ev(1, up, 60.9, trace.ACK, 64),
		ev(1, up, 61.0, trace.ACK, 92),
		ev(1, down, 91.1, trace.ACK, 61),
		ev(1, down, 91.2, trace.ACK|trace.FIN, 0), // after the answer
	}
	lines, answer := httpsHandshake(events, 1, 30*time.Millisecond)
	if answer != 91.1 {
		t.Errorf("answer at %v ms, want 91.1", answer)
	}
	want := []string{
		"[only the first part of the TLS ClientHello fits in the SYN (too_big_for_syn)]",
		"", // SYN-ACK
		"", // the handshake's ACK
		"[the rest of the ClientHello: the server cannot answer before it]",
		"[TLS ServerHello … Finished]",
		"",
		"[TLS Finished + HTTP request]",
		"",
		"[the answer to the request, 91.1 ms after the SYN (3.0 RTT)]",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if w == "" && strings.Contains(lines[i], "[") || !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d = %q, want label %q", i+1, lines[i], w)
		}
	}

	// The same flow with the whole ClientHello in the SYN.
	events[0].PayloadLen, events[4].PayloadLen = 273, 0
	lines, _ = httpsHandshake(events, 1, 0)
	if !strings.HasSuffix(lines[0], "[the whole TLS ClientHello in the SYN]") || !strings.HasSuffix(lines[len(lines)-1], "[the answer to the request, 91.1 ms after the SYN]") {
		t.Errorf("whole ClientHello in the SYN:\n%s", strings.Join(lines, "\n"))
	}
}

// TestSYNDataText: the closing table's "data in SYN" column.
func TestSYNDataText(t *testing.T) {
	for _, c := range []struct {
		run  DemoRun
		want string
	}{
		{DemoRun{}, "no"},
		{DemoRun{SYNData: true}, "yes"},
		{DemoRun{SYNData: true, SYNBytes: 6}, "yes (6 B)"},
		{DemoRun{SYNData: true, SYNBytes: 273, FirstFlightBytes: 273}, "yes (273 of 273 B)"},
		{DemoRun{SYNData: true, SYNBytes: 1420, FirstFlightBytes: 1501}, "part (1420 of 1501 B)"},
	} {
		if got := synDataText(c.run); got != c.want {
			t.Errorf("synDataText(%+v) = %q, want %q", c.run, got, c.want)
		}
	}
}
