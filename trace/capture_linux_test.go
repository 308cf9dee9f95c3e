package trace_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/trace"
	"github.com/gopacket/gopacket/layers"
)

const (
	request = "hello!"         // 6 bytes: what the client sends in its SYN
	reply   = "hello yourself" // what the server answers
	tfoQLen = 16               // TCP_FASTOPEN queue length of TFO listeners
)

// listen starts an echo-ish server inside h: it reads the request and
// answers with reply. With fastOpen the listener accepts TFO.
func listen(t *testing.T, h *lab.Host, addr string, fastOpen bool) netip.AddrPort {
	t.Helper()
	lc := &net.ListenConfig{}
	if fastOpen {
		lc = labtest.RawListenConfig(tfoQLen)
	}
	ln := labtest.Listen(t, h, lc, "tcp", addr)
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, len(request))
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write([]byte(reply))
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}

// exchange connects from inside h with TCP_FASTOPEN_CONNECT, sends the
// request (in the SYN when the kernel has a cookie), reads the reply and
// reports whether the kernel says the SYN's data was acknowledged
// (TCPI_OPT_SYN_DATA).
func exchange(t *testing.T, h *lab.Host, to netip.AddrPort) bool {
	t.Helper()
	c := labtest.Dial(t, h, labtest.RawDialer(5*time.Second), "tcp", to.String())
	defer c.Close() // at return: each exchange is a whole connection
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(reply))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read reply: %v", err)
	}
	info, err := labtest.TCPInfo(c)
	if err != nil {
		t.Fatalf("TCP_INFO: %v", err)
	}
	return labtest.SYNData(info)
}

// startCapture starts a capture on h's loopback for port.
func startCapture(t *testing.T, h *lab.Host, opts trace.Options) *trace.Capture {
	t.Helper()
	var c *trace.Capture
	labtest.Run(t, h, func() (err error) {
		c, err = trace.Start(opts)
		return err
	})
	t.Cleanup(func() { c.Stop() })
	return c
}

// notes returns the notes of a flow's events, in order.
func notes(evs []trace.Event, flow int) []string {
	var out []string
	for _, e := range evs {
		if e.Flow == flow {
			out = append(out, e.Note)
		}
	}
	return out
}

// wantPrefix checks that the flow's notes start with want.
func wantPrefix(t *testing.T, evs []trace.Event, flow int, want ...string) {
	t.Helper()
	got := notes(evs, flow)
	if len(got) < len(want) {
		t.Fatalf("connection %d: %d events %q, want at least %q", flow, len(got), got, want)
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("connection %d event %d: %q, want %q\nall: %q", flow, i+1, got[i], w, got)
		}
	}
}

// dump logs the trace for a failing test.
func dump(t *testing.T, evs []trace.Event, flows []trace.Flow) {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "#%d %s %s\n", e.Flow, e.Dir, e)
	}
	for _, f := range flows {
		fmt.Fprintln(&b, f)
	}
	t.Log("\n" + b.String())
}

func TestCaptureColdWarm(t *testing.T) {
	h := labtest.Host(t, "trace", 3)
	srv := listen(t, h, "127.0.0.1:0", true)
	var pcap bytes.Buffer
	c := startCapture(t, h, trace.Options{Interface: "lo", Port: int(srv.Port()), Pcap: &pcap})

	if exchange(t, h, srv) {
		t.Error("cold connection: kernel reports SYN data acknowledged, but there was no cookie yet")
	}
	if !exchange(t, h, srv) {
		t.Error("warm connection: kernel reports the SYN data was not acknowledged")
	}
	flows, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	evs := c.Events()
	if t.Failed() || len(flows) != 2 {
		dump(t, evs, flows)
		t.Fatalf("got %d connections, want 2", len(flows))
	}
	cold, warm := flows[0], flows[1]
	if len(cold.CookieGranted) < trace.MinCookieLen {
		dump(t, evs, flows)
		t.Fatalf("cold connection: no cookie granted: %+v", cold)
	}
	wantPrefix(t, evs, 1,
		"SYN + TFO cookie request",
		"SYN-ACK + cookie "+cold.CookieGranted.String(),
		"ACK (handshake complete)",
	)
	wantPrefix(t, evs, 2,
		"SYN + cookie + 6 bytes data",
		"SYN-ACK acks the SYN data (TFO accepted)",
	)
	if cold.Outcome != trace.CookieGranted || !cold.CookieRequested || cold.SYNData != 0 {
		t.Errorf("cold connection summary: %+v", cold)
	}
	if warm.Outcome != trace.Accepted || warm.SYNData != len(request) || warm.SYNDataAcked != len(request) {
		t.Errorf("warm connection summary: %+v", warm)
	}
	if !bytes.Equal(warm.CookieSent, cold.CookieGranted) {
		t.Errorf("warm SYN presented cookie %s, cold SYN-ACK granted %s", warm.CookieSent, cold.CookieGranted)
	}
	for _, f := range flows {
		if f.ServerBytes != len(reply) || f.FirstServerData <= 0 || f.RTT <= 0 || !f.RTTEstimated {
			t.Errorf("connection %d: server bytes %d, first server data %v, RTT %v (estimated %v)", f.ID, f.ServerBytes, f.FirstServerData, f.RTT, f.RTTEstimated)
		}
	}
	if st := c.Stats(); st.Packets != len(evs) || st.Undecodable != 0 {
		t.Errorf("stats %+v with %d events", st, len(evs))
	}

	// The file written alongside decodes to the same story.
	fevs, fflows, err := trace.Read(&pcap, trace.ReadOptions{})
	if err != nil {
		t.Fatalf("read back the capture: %v", err)
	}
	if len(fevs) != len(evs) || len(fflows) != 2 {
		t.Fatalf("read back %d events and %d connections, captured %d and 2", len(fevs), len(fflows), len(evs))
	}
	for i := range evs {
		if fevs[i].Note != evs[i].Note || !fevs[i].Time.Equal(evs[i].Time) {
			t.Errorf("event %d read back as %q at %v, captured %q at %v", i, fevs[i].Note, fevs[i].Time, evs[i].Note, evs[i].Time)
		}
	}
	if fflows[0].Outcome != trace.CookieGranted || fflows[1].Outcome != trace.Accepted {
		t.Errorf("read back outcomes %s, %s", fflows[0].Outcome, fflows[1].Outcome)
	}
	if t.Failed() {
		dump(t, evs, flows)
	}
}

func TestCaptureRefused(t *testing.T) {
	h := labtest.Host(t, "trace", 3)
	tfo := listen(t, h, "127.0.0.1:0", true)
	plain := listen(t, h, "127.0.0.1:0", false) // same address: the cached cookie applies
	exchange(t, h, tfo)                         // fetch a cookie for 127.0.0.1

	c := startCapture(t, h, trace.Options{Interface: "lo", Port: int(plain.Port())})
	if exchange(t, h, plain) {
		t.Error("kernel reports SYN data acknowledged by a listener without TCP_FASTOPEN")
	}
	flows, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	evs := c.Events()
	if len(flows) != 1 {
		dump(t, evs, flows)
		t.Fatalf("got %d connections, want 1", len(flows))
	}
	wantPrefix(t, evs, 1,
		"SYN + cookie + 6 bytes data",
		"SYN-ACK acks only the SYN (data will be retransmitted — TFO refused)",
	)
	f := flows[0]
	if f.Outcome != trace.Refused || f.SYNData != len(request) || f.SYNDataAcked != 0 {
		t.Errorf("summary: %+v", f)
	}
	resent := false
	for _, n := range notes(evs, 1) {
		if n == "6 bytes data (the refused SYN data, sent again; completes the handshake)" {
			resent = true
		}
	}
	if !resent {
		t.Errorf("no event shows the refused data being sent again: %q", notes(evs, 1))
	}
	if t.Failed() {
		dump(t, evs, flows)
	}
}

func TestStartErrors(t *testing.T) {
	h := labtest.Host(t, "trace", 3)
	err := h.Run(func() error {
		_, err := trace.Start(trace.Options{Interface: "nosuch0"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `interface "nosuch0" not found`) {
		t.Errorf("missing interface: %v", err)
	}
	if _, err := trace.Start(trace.Options{Interface: "lo", Port: 70000}); err == nil || !strings.Contains(err.Error(), "port 70000") {
		t.Errorf("bad port: %v", err)
	}
}

// TestPcapTshark writes a cold and a warm exchange to pcap and pcapng
// files and checks that tshark's own TFO dissection agrees with ours.
func TestPcapTshark(t *testing.T) {
	tshark := labtest.NeedCommand(t, "tshark")
	h := labtest.Host(t, "trace", 3)
	srv := listen(t, h, "127.0.0.1:0", true)
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"tfo.pcap", "tfo.pcapng"} {
		path := dir + "/" + name
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		c := startCapture(t, h, trace.Options{Interface: "lo", Port: int(srv.Port()), Pcap: f, Format: trace.FormatForPath(path)})
		exchange(t, h, srv)
		exchange(t, h, srv)
		if _, err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			evs, flows, err := trace.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Both connections run after the first fetched the cookie
			// for the pcap file, so in the pcapng one both are warm.
			out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "separator=;",
				"-e", "tcp.srcport", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack",
				"-e", "tcp.options.tfo.request", "-e", "tcp.options.tfo.cookie", "-e", "tcp.len").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(evs) {
				t.Fatalf("tshark sees %d packets, we decoded %d", len(lines), len(evs))
			}
			sawCookie, sawSYNData := false, false
			for i, line := range lines {
				f := strings.Split(line, ";")
				if len(f) != 6 {
					t.Fatalf("tshark line %q", line)
				}
				e := evs[i]
				var ourCookie, ourReq string
				if e.FastOpen != nil {
					ourCookie = e.FastOpen.Cookie.String()
					if e.FastOpen.Request() {
						ourReq = "1"
					}
				}
				if f[4] != ourCookie || (f[3] != "") != (ourReq != "") {
					t.Errorf("packet %d: tshark TFO request %q cookie %q, we decoded request %q cookie %q (%s)", i+1, f[3], f[4], ourReq, ourCookie, e.Note)
				}
				if f[5] != fmt.Sprint(e.PayloadLen) {
					t.Errorf("packet %d: tshark tcp.len %s, we decoded %d", i+1, f[5], e.PayloadLen)
				}
				if f[4] != "" {
					sawCookie = true
				}
				if f[1] == "1" && f[2] == "0" && f[5] != "0" {
					sawSYNData = true
					if e.Note != "SYN + cookie + 6 bytes data" {
						t.Errorf("packet %d: tshark sees a SYN with %s bytes, we say %q", i+1, f[5], e.Note)
					}
				}
			}
			if !sawCookie || !sawSYNData {
				t.Errorf("tshark saw a cookie: %v, a SYN with data: %v\n%s", sawCookie, sawSYNData, out)
			}
			if len(flows) != 2 || flows[1].Outcome != trace.Accepted {
				t.Errorf("flows read back: %+v", flows)
			}
		})
	}
}

// TestCaptureTUN captures on a lab TUN device (raw IP frames, no Ethernet
// header) across a link with a 20 ms RTT, and checks the RTT estimate and
// the time to the server's first byte in RTTs: two for the cold
// connection, one when the request rode in the SYN.
func TestCaptureTUN(t *testing.T) {
	const rtt = 20 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: rtt})
	srv := listen(t, l.Server, netip.AddrPortFrom(lab.ServerIPv4, 0).String(), true)
	var pcap bytes.Buffer
	c := startCapture(t, l.Client, trace.Options{Interface: lab.TunName, Port: int(srv.Port()), Pcap: &pcap})
	if c.LinkType() != layers.LinkTypeRaw {
		t.Errorf("TUN link type %v, want raw IP", c.LinkType())
	}
	exchange(t, l.Client, srv)
	exchange(t, l.Client, srv)
	flows, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	evs := c.Events()
	if len(flows) != 2 {
		dump(t, evs, flows)
		t.Fatalf("%d connections, want 2", len(flows))
	}
	cold, warm := flows[0], flows[1]
	if cold.Outcome != trace.CookieGranted || warm.Outcome != trace.Accepted {
		t.Errorf("outcomes %s, %s", cold.Outcome, warm.Outcome)
	}
	for _, f := range flows {
		t.Log(f)
		if f.RTT < rtt || f.RTT > 3*rtt || f.Handshake < rtt {
			t.Errorf("connection %d: RTT estimate %v, handshake %v, link RTT %v", f.ID, f.RTT, f.Handshake, rtt)
		}
	}
	if r := cold.FirstServerDataRTTs; r < 1.8 || r > 3 {
		t.Errorf("cold connection: first server byte after %.2f RTT, want about 2", r)
	}
	if r := warm.FirstServerDataRTTs; r < 0.9 || r > 1.6 {
		t.Errorf("warm connection: first server byte after %.2f RTT, want about 1", r)
	}
	// The saved file says raw IP and decodes the same.
	_, fflows, err := trace.Read(&pcap, trace.ReadOptions{RTT: rtt})
	if err != nil || len(fflows) != 2 || fflows[1].Outcome != trace.Accepted || fflows[1].RTTEstimated || fflows[1].RTT != rtt {
		t.Errorf("read back: %v %+v", err, fflows)
	}
	if t.Failed() || testing.Verbose() {
		dump(t, evs, flows)
	}
}
