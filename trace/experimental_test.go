package trace

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/fastopen/fastopen/internal/labtest"
)

// TestExperimentalOptionFile writes a cold and a warm handshake that use
// the experimental TFO option (kind 254, ExID 0xF989) to pcap and pcapng
// files, reads them back, and checks that tshark's own dissection finds
// the same cookie requests, cookies and SYN data.
func TestExperimentalOptionFile(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var frames [][]byte
	var stamps []time.Time
	at := func(d time.Duration, s seg) {
		frames = append(frames, build(t, layers.LinkTypeRaw, s))
		stamps = append(stamps, t0.Add(d))
	}
	c := seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 8000}
	s := seg{src: "10.0.0.2", dst: "10.0.0.1", sport: 8000, dport: 40000}
	with := func(s seg, flags Flags, seq, ack uint32, opts []layers.TCPOption, payload string) seg {
		s.flags, s.seq, s.ack, s.opts, s.payload = flags, seq, ack, opts, []byte(payload)
		return s
	}
	// Cold: cookie request, cookie, handshake, request and reply.
	at(0, with(c, SYN, 1000, 0, []layers.TCPOption{mss1460, expReq}, ""))
	at(20*time.Millisecond, with(s, SYN|ACK, 5000, 1001, []layers.TCPOption{mss1460, expCook}, ""))
	at(20*time.Millisecond, with(c, ACK, 1001, 5001, nil, ""))
	at(20*time.Millisecond, with(c, PSH|ACK, 1001, 5001, nil, "hello!"))
	at(40*time.Millisecond, with(s, PSH|ACK, 5001, 1007, nil, "hi"))
	// Warm, from another port: cookie and data in the SYN, acknowledged.
	c.sport, s.dport = 40001, 40001
	at(time.Second, with(c, SYN, 9000, 0, []layers.TCPOption{mss1460, expCook}, "hello!"))
	at(time.Second+20*time.Millisecond, with(s, SYN|ACK, 7000, 9007, []layers.TCPOption{mss1460}, ""))
	at(time.Second+20*time.Millisecond, with(c, ACK, 9007, 7001, nil, ""))
	at(time.Second+20*time.Millisecond, with(s, PSH|ACK, 7001, 9007, nil, "hi"))
	dir := t.TempDir()
	for _, name := range []string{"exp.pcap", "exp.pcapng"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			var buf bytes.Buffer
			w, err := NewWriter(&buf, FormatForPath(path), layers.LinkTypeRaw, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range frames {
				ci := gopacket.CaptureInfo{Timestamp: stamps[i], CaptureLength: len(f), Length: len(f)}
				if err := w.WritePacket(ci, f); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}

			evs, flows, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != len(frames) || len(flows) != 2 {
				t.Fatalf("read %d events and %d connections, want %d and 2", len(evs), len(flows), len(frames))
			}
			if flows[0].Outcome != CookieGranted || flows[1].Outcome != Accepted || flows[1].CookieSent.String() != "22aa94e8eebaeddd" {
				t.Errorf("connections %+v", flows)
			}
			for _, e := range evs {
				if e.FastOpen != nil && !e.FastOpen.Experimental() {
					t.Errorf("%q decoded as kind %d, want %d", e.Note, e.FastOpen.Kind, OptionKindExperimental)
				}
			}

			tshark := labtest.NeedCommand(t, "tshark")
			out, err := exec.Command(tshark, "-r", path, "-Y", "tcp.options.experimental.exid == 0xf989", "-T", "fields", "-E", "separator=;",
				"-e", "tcp.options.experimental.exid", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack",
				"-e", "tcp.options.tfo.request", "-e", "tcp.options.tfo.cookie", "-e", "tcp.len").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			// Our view of the same packets: those with a TFO option. (tshark
			// shows the experimental form under tcp.options.experimental,
			// with the same tcp.options.tfo.* fields inside.)
			var want []string
			for _, e := range evs {
				if e.FastOpen == nil {
					continue
				}
				req := ""
				if e.FastOpen.Request() {
					req = "1"
				}
				ack := "0"
				if e.Flags.Has(ACK) {
					ack = "1"
				}
				want = append(want, strings.Join([]string{"0xf989", "1", ack, req, e.FastOpen.Cookie.String(), itoa(e.PayloadLen)}, ";"))
			}
			got := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(got) != len(want) {
				t.Fatalf("tshark finds %d packets with a TFO option, we decoded %d:\n%s", len(got), len(want), out)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("packet %d: tshark %q, we decoded %q", i+1, got[i], want[i])
				}
			}
		})
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
