package fotls_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/fotls"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/trace"
)

// TestClientHelloInSYN proves with a capture on the lab's 1500-byte link,
// decoded by package trace and by tshark, that FitSYN's whole ClientHello
// rides in the SYN and is acknowledged, while Go's default one (post-
// quantum key share) fills the SYN's 1420 bytes and spills over.
func TestClientHelloInSYN(t *testing.T) {
	tshark := labtest.NeedCommand(t, "tshark")
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond})
	const port = 8443
	addr := netip.AddrPortFrom(l.ServerAddr(false), port)
	cert, pool, err := fotls.SelfSigned([]string{addr.Addr().String()}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ln := labtest.Listen(t, l.Server, &fastopen.ListenConfig{}, "tcp4", addr.String())
	labtest.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}), func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("ok"))
		c.Read(make([]byte, 1)) // until the client closes
	})

	path := filepath.Join(t.TempDir(), "tls.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var capt *trace.Capture
	labtest.Run(t, l.Client, func() (err error) {
		capt, err = trace.Start(trace.Options{Interface: lab.TunName, Port: port, Pcap: f})
		return err
	})
	t.Cleanup(func() { capt.Stop() })

	fit := fotls.FitSYN(&tls.Config{RootCAs: pool, ServerName: addr.Addr().String()})
	fitSize, err := fotls.ClientHelloSize(fit, addr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	def := &tls.Config{RootCAs: pool, ServerName: addr.Addr().String()}
	var d fastopen.Dialer
	infos := make([]fastopen.Info, 3)
	for i, cfg := range []*tls.Config{def, def, fit} { // cold, warm default, warm FitSYN
		c := labtest.Dial(t, l.Client, &d, "tcp4", addr.String())
		tc := tls.Client(c, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := tc.HandshakeContext(ctx); err != nil {
			t.Fatalf("connection %d: TLS handshake: %v", i+1, err)
		}
		cancel()
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := tc.Read(make([]byte, 2)); err != nil {
			t.Fatalf("connection %d: read: %v", i+1, err)
		}
		if infos[i], err = fastopen.InfoOf(tc); err != nil {
			t.Fatal(err)
		}
		tc.Close()
	}
	if _, err := capt.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if inf := infos[1]; !inf.SYNData || inf.SYNSentBytes != 1420 || inf.Reason != fastopen.ReasonTooBigForSYN {
		t.Errorf("default ClientHello: client info %+v, want 1420 B in the SYN and too_big_for_syn", inf)
	}
	if inf := infos[2]; !inf.FirstWriteFit || inf.SYNSentBytes != fitSize {
		t.Errorf("FitSYN ClientHello: client info %+v, want all %d B in the SYN", inf, fitSize)
	}

	_, flows, err := trace.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 3 {
		t.Fatalf("trace: %d connections, want 3", len(flows))
	}
	if fl := flows[1]; fl.SYNData != 1420 || fl.SYNDataAcked != 1420 {
		t.Errorf("trace, default ClientHello: SYN data %d, acked %d; want 1420 and 1420 (the SYN is full)", fl.SYNData, fl.SYNDataAcked)
	}
	if fl := flows[2]; fl.SYNData != fitSize || fl.SYNDataAcked != fitSize || fl.Outcome != trace.Accepted {
		t.Errorf("trace, FitSYN ClientHello: %+v, want %d B in the SYN, acked", fl, fitSize)
	}

	// tshark, each segment dissected on its own: a whole ClientHello
	// record in FitSYN's SYN; in the default's, 1420 bytes that do not
	// hold a whole record.
	out, err := exec.Command(tshark, "-r", path, "-o", "tcp.desegment_tcp_streams:FALSE", "-d", "tcp.port=="+strconv.Itoa(port)+",tls",
		"-Y", "tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.len>0", "-T", "fields", "-E", "separator=;",
		"-e", "tcp.len", "-e", "tls.record.content_type", "-e", "tls.handshake.type", "-e", "tls.record.length").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	want := []string{"1420;;;", strconv.Itoa(fitSize) + ";22;1;" + strconv.Itoa(fitSize-5)}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("tshark, SYNs with data (tcp.len;record type;handshake type;record length): %q, want %q", got, want)
	}
	// tshark reassembling the streams: which segment completes each
	// ClientHello. Only FitSYN's is the SYN itself.
	out, err = exec.Command(tshark, "-r", path, "-d", "tcp.port=="+strconv.Itoa(port)+",tls",
		"-Y", "tls.handshake.type==1", "-T", "fields", "-E", "separator=;",
		"-e", "tcp.stream", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	want = []string{"0;0;1", "1;0;1", "2;1;0"}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("tshark, segments completing a ClientHello (stream;SYN;ACK): %q, want %q (cold, default after the handshake, FitSYN in the SYN)", got, want)
	}
}
