package fastopen_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// TestSYNSentBytes checks the client's count of first-write bytes in the
// SYN against the server's (bytes received while the SYN was the only
// segment): a write that fits rides whole and is reported as TFO used; a
// larger one rides in part, and the client says so (too_big_for_syn)
// instead of reporting success. Over the lab's 1500-byte link the SYN
// carries 1420 B; on loopback (MTU 65536) the SYN-ACK is processed before
// the client's sendmsg returns, the race a TCP_INFO reading after the
// write would lose.
func TestSYNSentBytes(t *testing.T) {
	t.Run("lab", func(t *testing.T) {
		l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond})
		addr := netip.AddrPortFrom(l.ServerAddr(false), 8000).String()
		_, infos := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", addr)
		checkSYNSent(t, l.Client, addr, infos, 3000, 1420)
	})
	t.Run("loopback", func(t *testing.T) {
		h := labtest.Host(t, "synsize", 3)
		addr, infos := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
		checkSYNSent(t, h, addr, infos, 60000, 0)
	})
}

// checkSYNSent runs a cold exchange, one that fits the SYN and one of big
// bytes; limit, if not 0, is the SYN payload the link allows.
func checkSYNSent(t *testing.T, h *lab.Host, addr string, infos <-chan fastopen.Info, big, limit int) {
	t.Helper()
	var d fastopen.Dialer
	cold := exchange(t, h, &d, "tcp4", addr, "cookie please")
	recv(t, infos)
	if cold.SYNSentBytes != 0 || cold.FirstWriteBytes != 0 || cold.FirstWriteFit || cold.Reason != fastopen.ReasonNoCookie {
		t.Fatalf("cold info %+v: want no SYN bytes, no_cookie", cold)
	}

	small := strings.Repeat("s", 100)
	fit := exchange(t, h, &d, "tcp4", addr, small)
	sfit := recv(t, infos)
	if !fit.SYNData || fit.SYNSentBytes != 100 || fit.FirstWriteBytes != 100 || !fit.FirstWriteFit || fit.Reason != fastopen.ReasonNone {
		t.Errorf("fitting write: client info %+v, want 100 of 100 bytes in the SYN, TFO used", fit)
	}
	if sfit.SYNBytes != fit.SYNSentBytes {
		t.Errorf("fitting write: server saw %d bytes in the SYN, client reports %d", sfit.SYNBytes, fit.SYNSentBytes)
	}

	large := exchange(t, h, &d, "tcp4", addr, strings.Repeat("L", big))
	slarge := recv(t, infos)
	if !large.SYNData || large.FirstWriteBytes != big || large.SYNSentBytes <= 0 || large.SYNSentBytes >= big ||
		large.FirstWriteFit || large.Reason != fastopen.ReasonTooBigForSYN || large.Reason.Code() != "too_big_for_syn" {
		t.Errorf("large write: client info %+v, want part of %d bytes in the SYN with reason too_big_for_syn", large, big)
	}
	if limit != 0 && large.SYNSentBytes != limit {
		t.Errorf("large write: %d bytes in the SYN, want the link's limit %d", large.SYNSentBytes, limit)
	}
	// On loopback the rest arrives before the server accepts, so the
	// server cannot measure its SYN alone (SYNBytes 0); the lab can.
	if slarge.SYNBytes != large.SYNSentBytes && (limit != 0 || slarge.SYNBytes != 0) {
		t.Errorf("large write: server saw %d bytes in the SYN, client reports %d", slarge.SYNBytes, large.SYNSentBytes)
	}
	t.Logf("fit: %d/%d B in SYN; large: %d/%d B in SYN (server %d)", fit.SYNSentBytes, fit.FirstWriteBytes, large.SYNSentBytes, large.FirstWriteBytes, slarge.SYNBytes)
}

// TestSYNSentBytesSeenByReader: the reply to a SYN with data can reach a
// reading goroutine before the writing one is scheduled again (net/http's
// pattern; on loopback the reply follows within microseconds). Info taken
// by the reader as soon as the reply arrives must already count the
// bytes the SYN carried.
func TestSYNSentBytesSeenByReader(t *testing.T) {
	h := labtest.Host(t, "synsize", 3)
	addr, infos := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	var d fastopen.Dialer
	exchange(t, h, &d, "tcp4", addr, "cookie please")
	recv(t, infos)
	const msg = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for i := 0; i < 200; i++ {
		c := labtest.Dial(t, h, &d, "tcp4", addr)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got := make(chan fastopen.Info, 1)
		go func() {
			buf := make([]byte, len(msg))
			c.Read(buf)
			inf, _ := fastopen.InfoOf(c)
			got <- inf
		}()
		go c.Write([]byte(msg))
		inf := <-got
		recv(t, infos)
		c.Close()
		if inf.SYNData && (inf.SYNSentBytes != len(msg) || inf.Reason != fastopen.ReasonNone) {
			t.Fatalf("connection %d: Info taken on the reply: %+v, want %d B counted in the SYN", i+1, inf, len(msg))
		}
	}
}
