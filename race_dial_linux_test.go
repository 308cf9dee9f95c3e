package fastopen_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// TestRaceDropSYNData: on a path that drops SYNs carrying data, a racing
// Dialer's first failure costs about the race delay plus two round trips
// (a plain connection's handshake, then the request), not the kernel's
// SYN retransmission timeout of 1 s; the server reads the request exactly
// once, and the client's Info says TFO did not carry it.
func TestRaceDropSYNData(t *testing.T) {
	const rtt0 = 20 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: rtt0, Faults: []lab.Rule{lab.DropSYNData()}})
	addr := netip.AddrPortFrom(l.ServerAddr(false), 8000).String()
	reads := countingEcho(labtest.Listen(t, l.Server, nil, "tcp4", addr))
	var warm fastopen.Dialer
	cold := labtest.Dial(t, l.Client, &warm, "tcp4", addr)
	echoOn(t, cold, "cookie please") // SYN without data: passes
	cold.Close()                     // the kernel saves the RTT when the connection ends (TIME_WAIT, a round trip later)
	var rtt time.Duration
	for end := time.Now().Add(bound); rtt == 0 && time.Now().Before(end); {
		labtest.Run(t, l.Client, func() error {
			rtt, _, _ = fastopen.CachedRTT(l.ServerAddr(false))
			return nil
		})
		if rtt == 0 {
			time.Sleep(rtt0 / 4) // polling the kernel's cache, a condition
		}
	}
	t.Logf("RTT in the kernel's TCP metrics cache: %v", rtt)
	if rtt < rtt0/2 || rtt > 2*rtt0 {
		t.Fatalf("the kernel's TCP metrics hold an RTT of %v for the server, want about %v", rtt, rtt0)
	}

	for _, tc := range []struct {
		name  string
		delay time.Duration // Dialer.RaceDelay
		max   time.Duration // the race delay the dial may use
	}{
		{"RaceDelay", 150 * time.Millisecond, 150 * time.Millisecond},
		{"derived from the cached RTT", 0, 100 * time.Millisecond}, // 2 RTT + 4 RTTVAR
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A memory of its own: the lost race of the subtest before
			// taught the path memory to leave TFO out.
			d := fastopen.Dialer{Race: true, RaceDelay: tc.delay, PathMemory: &fastopen.PathMemory{}}
			c := labtest.Dial(t, l.Client, &d, "tcp4", addr)
			if inf := clientInfo(t, c); !inf.HadCookie {
				t.Fatalf("dial: %+v, want a deferred SYN", inf)
			}
			req := "idempotent " + tc.name
			took, err := timed(t, "request", func() error {
				return l.Client.Run(func() error {
					if _, err := c.Write([]byte(req)); err != nil {
						return err
					}
					_, err := io.ReadFull(c, make([]byte, len(req)))
					return err
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("request answered after %v", took)
			if limit := tc.max + 2*rtt0 + 150*time.Millisecond; took > limit {
				t.Errorf("took %v, want at most the race delay + 2 RTT (+ margin) = %v, not a SYN retransmission timeout", took, limit)
			}
			if tc.delay > 0 && took < tc.delay {
				t.Errorf("took %v, less than the race delay %v: no SYN with data was tried", took, tc.delay)
			}
			if inf := clientInfo(t, c); inf.SYNData || inf.Reason != fastopen.ReasonSYNRetransmitted {
				t.Errorf("info %+v, want no SYN data, reason syn_retransmitted", inf)
			}
			if n := reads(req); n != 1 {
				t.Fatalf("the server read the request %d times, want exactly once", n)
			}
		})
	}
	if hits := l.Stats().Rules[0].Hits; hits < 2 {
		t.Fatalf("the drop rule matched %d SYNs with data, want one per racing dial", hits)
	}
}

// TestRaceWithRequireRefused: Race's plain connection would deliver the
// first flight without TFO, which Require forbids: a Dialer with both is
// refused at once with ErrRaceRequire, before any socket is opened.
func TestRaceWithRequireRefused(t *testing.T) {
	sockets := 0
	d := fastopen.Dialer{Race: true, Require: true}
	d.Control = func(string, string, syscall.RawConn) error { sockets++; return nil }
	c, err := d.Dial("tcp4", "127.0.0.1:1")
	if err == nil {
		c.Close()
		t.Fatal("Race with Require: dial succeeded, want ErrRaceRequire")
	}
	var op *net.OpError
	if !errors.Is(err, fastopen.ErrRaceRequire) || !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("Race with Require: %v, want a dial *net.OpError wrapping ErrRaceRequire", err)
	}
	if sockets != 0 {
		t.Errorf("Race with Require: %d sockets opened, want none", sockets)
	}
	// The same Dialer without Race dials (and fails only to connect).
	d.Race = false
	if _, err := d.Dial("tcp4", "127.0.0.1:1"); errors.Is(err, fastopen.ErrRaceRequire) || sockets != 1 {
		t.Errorf("Require without Race: %v, %d sockets, want a connect attempt", err, sockets)
	}
}
