package fastopen_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
	"golang.org/x/sys/unix"
)

// TestPathHeals: after a SYN with data is lost, the path memory keeps
// dials off TFO for the backoff (Info: path_memory, until when, why;
// Require fails), a fresh memory learns the same from the kernel's
// fo_syn_drops (as another process would), a probe on a still broken path
// doubles the backoff, and once the middlebox is gone the next probe gets
// TFO back: the data is acknowledged in the SYN again (TCP_INFO), and
// stays so.
func TestPathHeals(t *testing.T) {
	const backoff = 300 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	addr, infos := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(l.ServerAddr(false), 8000).String())
	mem := &fastopen.PathMemory{Backoff: backoff}
	d := fastopen.Dialer{PathMemory: mem}
	lookup := func() fastopen.PathEntry {
		t.Helper()
		var e fastopen.PathEntry
		var ok bool
		labtest.Run(t, l.Client, func() error { e, ok = mem.Lookup(l.ServerAddr(false)); return nil })
		if !ok {
			t.Fatal("the path memory does not know the server")
		}
		return e
	}

	exchange(t, l.Client, &d, "tcp4", addr, "cookie please")
	recv(t, infos)
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "lost in the SYN"); inf.Reason != fastopen.ReasonSYNRetransmitted {
		t.Fatalf("SYN data dropped: %+v, want syn_retransmitted", inf)
	}
	recv(t, infos)
	e := lookup()
	if e.Failures != 1 || e.Cause != fastopen.ReasonSYNRetransmitted || e.AvoidUntil.Sub(e.LastFailure) != backoff {
		t.Fatalf("after the loss: %+v, want 1 failure, syn_retransmitted, avoided for %v", e, backoff)
	}

	inf := exchange(t, l.Client, &d, "tcp4", addr, "plain this time")
	if inf.Reason != fastopen.ReasonPathMemory || inf.Requested || !inf.PathUntil.Equal(e.AvoidUntil) || inf.PathCause != fastopen.ReasonSYNRetransmitted {
		t.Fatalf("within the backoff: %+v, want path_memory until %v after syn_retransmitted, TFO not requested", inf, e.AvoidUntil)
	}
	recv(t, infos)
	err := dialErr(l.Client, &fastopen.Dialer{PathMemory: mem, Require: true}, addr)
	var fe *fastopen.Error
	if !errors.Is(err, fastopen.ErrNotUsed) || !errors.As(err, &fe) || fe.Reason != fastopen.ReasonPathMemory {
		t.Fatalf("Require within the backoff: %v, want ErrNotUsed with reason path_memory", err)
	}
	// A memory that saw nothing (another process) reads the loss from
	// the kernel's tcp_metrics.
	fresh := fastopen.Dialer{PathMemory: &fastopen.PathMemory{Backoff: backoff}}
	if inf := exchange(t, l.Client, &fresh, "tcp4", addr, "another process"); inf.Reason != fastopen.ReasonPathMemory || inf.PathCause != fastopen.ReasonSYNRetransmitted {
		t.Fatalf("fresh memory: %+v, want path_memory from the kernel's fo_syn_drops", inf)
	}
	recv(t, infos)

	// The backoff is over, the path still broken: the probe fails and
	// the backoff doubles.
	time.Sleep(time.Until(e.AvoidUntil))
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "probe"); !inf.PathProbe || inf.Reason != fastopen.ReasonSYNRetransmitted {
		t.Fatalf("probe on a broken path: %+v, want a probe that lost its SYN data", inf)
	}
	recv(t, infos)
	if e = lookup(); e.Failures != 2 || e.AvoidUntil.Sub(e.LastFailure) != 2*backoff {
		t.Fatalf("after the failed probe: %+v, want 2 failures, avoided for %v", e, 2*backoff)
	}

	if err := l.SetFaultActive("no-such-rule", false); err == nil || !strings.Contains(err.Error(), "drop-syn-data") {
		t.Fatalf("SetFaultActive of an unknown rule: %v, want an error listing the lab's rules", err)
	}
	if err := l.SetFaultActive("drop-syn-data", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(e.AvoidUntil))
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "healed"); !inf.PathProbe || !inf.SYNData {
		t.Fatalf("probe on the healed path: %+v, want a probe whose SYN data was acknowledged", inf)
	}
	if s := recv(t, infos); !s.SYNData {
		t.Fatalf("server after healing: %+v, want the data in the SYN", s)
	}
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "and again"); inf.PathProbe || !inf.SYNData {
		t.Fatalf("after the successful probe: %+v, want TFO without a probe", inf)
	}
	if e = lookup(); e.Failures != 0 || !e.AvoidUntil.IsZero() || e.Successes != 2 {
		t.Fatalf("after healing: %+v, want no failures, not avoided, 2 successes", e)
	}
}

// TestPathMemoryBefore55: on kernels before 5.5 (no
// tcpi_fastopen_client_fail, injected here) a lost SYN with data is still
// recognised, by the SYN retransmission TCP_INFO counts, and the next
// dial leaves TFO out.
func TestPathMemoryBefore55(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond, Faults: []lab.Rule{lab.DropSYNData()}})
	addr, _ := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(l.ServerAddr(false), 8000).String())
	defer fastopen.SetKernelReportsClientFail(false)()
	d := fastopen.Dialer{PathMemory: &fastopen.PathMemory{}}
	exchange(t, l.Client, &d, "tcp4", addr, "cookie please")
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "lost in the SYN"); inf.SYNData || !inf.SentInSYN {
		t.Fatalf("SYN data dropped: %+v, want sent in the SYN and not acknowledged", inf)
	}
	if inf := exchange(t, l.Client, &d, "tcp4", addr, "plain"); inf.Reason != fastopen.ReasonPathMemory || inf.PathCause != fastopen.ReasonSYNRetransmitted {
		t.Fatalf("after the loss: %+v, want path_memory after syn_retransmitted", inf)
	}
}

// TestPathMemoryUnsupportedKernel: a kernel before 4.11 has no
// TCP_FASTOPEN_CONNECT (ENOPROTOOPT, injected). A dial that the path
// memory keeps off TFO still asks the kernel, so Info and Require say
// unsupported (TFO will never come back here), not path_memory, and the
// socket is left without TFO: the exchange works.
func TestPathMemoryUnsupportedKernel(t *testing.T) {
	h, addr, _ := warmHost(t)
	mem := &fastopen.PathMemory{}
	d := fastopen.Dialer{PathMemory: mem}
	exchange(t, h, &d, "tcp4", addr, "known")
	es := mem.Entries()
	if len(es) != 1 {
		t.Fatalf("path memory: %+v, want the one destination dialed", es)
	}
	now := time.Now()
	e := es[0]
	e.Failures, e.Cause, e.LastFailure, e.AvoidUntil = 1, fastopen.ReasonSYNRetransmitted, now, now.Add(time.Minute)
	mem.Restore([]fastopen.PathEntry{e})
	asked := 0
	fastopen.SetSetsockoptInt(func(fd, level, opt, value int) error {
		if level == unix.IPPROTO_TCP && opt == unix.TCP_FASTOPEN_CONNECT {
			asked++
			return unix.ENOPROTOOPT
		}
		return unix.SetsockoptInt(fd, level, opt, value)
	})
	defer fastopen.SetSetsockoptInt(nil)
	if inf := exchange(t, h, &d, "tcp4", addr, "avoided"); inf.Reason != fastopen.ReasonUnsupported || inf.SYNData || asked != 1 {
		t.Errorf("avoided path, no TCP_FASTOPEN_CONNECT: %+v (asked %d), want unsupported, no SYN data, the kernel asked once", inf, asked)
	}
	err := dialErr(h, &fastopen.Dialer{PathMemory: mem, Require: true}, addr)
	var fe *fastopen.Error
	if !errors.As(err, &fe) || fe.Reason != fastopen.ReasonUnsupported || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Require, avoided path, no TCP_FASTOPEN_CONNECT: %v, want reason unsupported (errors.ErrUnsupported)", err)
	}
}
