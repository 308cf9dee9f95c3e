package fastopen

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

var testKey = pathKey{ns: 7, addr: netip.MustParseAddr("192.0.2.1")}

// fail records a failure of the kind o for a dial decided at now.
func (m *PathMemory) fail(t *testing.T, k pathKey, o outcome, now time.Time) {
	t.Helper()
	st := m.decide(k, now, false)
	if st.skipped {
		t.Fatalf("decide at %v: skipped, want TFO tried", now)
	}
	st.record(o, now)
}

func TestPathBackoffDoublesAndCaps(t *testing.T) {
	m := &PathMemory{Backoff: time.Second, MaxBackoff: 5 * time.Second}
	now := time.Unix(1000, 0)
	for i, want := range []time.Duration{1, 2, 4, 5, 5} {
		m.fail(t, testKey, outcomeSYNDataLost, now)
		e, _ := m.lookup(testKey)
		got := e.AvoidUntil.Sub(now)
		if got != want*time.Second || e.Failures != i+1 {
			t.Fatalf("failure %d: avoided for %v with %d failures, want %v", i+1, got, e.Failures, want*time.Second)
		}
		if st := m.decide(testKey, now.Add(got-time.Nanosecond), false); !st.skipped || !st.until.time().Equal(e.AvoidUntil) || st.cause != ReasonSYNRetransmitted {
			t.Fatalf("failure %d: within the backoff: %+v, want skipped until %v", i+1, st, e.AvoidUntil)
		}
		now = e.AvoidUntil
	}
}

func TestPathProbeIsAlone(t *testing.T) {
	m := &PathMemory{Backoff: time.Second}
	now := time.Unix(1000, 0)
	m.fail(t, testKey, outcomeCookieReqLost, now)
	now = now.Add(time.Second)
	probe := m.decide(testKey, now, false)
	if !probe.probe || probe.skipped {
		t.Fatalf("after the backoff: %+v, want a probe", probe)
	}
	if other := m.decide(testKey, now, false); !other.skipped || !other.until.time().Equal(now.Add(pathProbeTimeout)) {
		t.Fatalf("while probing: %+v, want skipped until the probe times out", other)
	}
	probe.record(outcomeCookieReceived, now)
	if st := m.decide(testKey, now, false); st.skipped || st.probe {
		t.Fatalf("after the cookie request went through: %+v, want plain TFO", st)
	}
	// A probe whose connection ends before its handshake lets the next
	// dial probe.
	m.fail(t, testKey, outcomeSYNDataLost, now)
	now = now.Add(time.Second)
	p := m.decide(testKey, now, false)
	p.record(outcomeNone, now)
	if st := m.decide(testKey, now, false); !st.probe {
		t.Fatalf("after an inconclusive probe: %+v, want a new probe", st)
	}
}

func TestPathOutcomes(t *testing.T) {
	now := time.Unix(1000, 0)
	m := &PathMemory{}
	// One unacknowledged SYN data is a server's new key: no backoff.
	m.fail(t, testKey, outcomeDataNotAcked, now)
	if st := m.decide(testKey, now, false); st.skipped {
		t.Fatalf("one data_not_acked: %+v, want TFO", st)
	}
	m.fail(t, testKey, outcomeDataNotAcked, now)
	if st := m.decide(testKey, now, false); !st.skipped || st.cause != ReasonDataNotAcked {
		t.Fatalf("two data_not_acked in a row: %+v, want skipped", st)
	}
	// A cookie request that goes through does not heal lost SYN data.
	k := pathKey{addr: netip.MustParseAddr("2001:db8::1")}
	m.fail(t, k, outcomeSYNDataLost, now)
	now = now.Add(DefaultPathBackoff)
	st := m.decide(k, now, false)
	st.record(outcomeCookieReceived, now)
	if e, _ := m.lookup(k); e.Failures != 1 {
		t.Fatalf("cookie after lost SYN data: %+v, want the failure kept", e)
	}
	st = m.decide(k, now, false)
	st.record(outcomeSYNDataAcked, now)
	if e, _ := m.lookup(k); e.Failures != 0 || e.Successes != 1 || !e.AvoidUntil.IsZero() {
		t.Fatalf("after SYN data acknowledged: %+v, want cleared", e)
	}
}

func TestPathMemoryBounded(t *testing.T) {
	m := &PathMemory{Size: 3}
	now := time.Unix(1000, 0)
	for i := range 4 {
		k := pathKey{addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})}
		m.decide(k, now.Add(time.Duration(i)*time.Second), false)
	}
	es := m.Entries()
	if len(es) != 3 || es[0].Addr != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("entries %v, want 3 with the least recently used (192.0.2.0) gone", es)
	}
	m.Forget(netip.MustParseAddr("192.0.2.2"))
	if len(m.Entries()) != 2 {
		t.Fatal("Forget(addr) kept the entry")
	}
	m.Forget(netip.Addr{})
	if len(m.Entries()) != 0 {
		t.Fatal("Forget(zero) kept entries")
	}
}

func TestPathRestoreKeepsLaterNews(t *testing.T) {
	now := time.Unix(1000, 0)
	a := &PathMemory{}
	a.fail(t, testKey, outcomeSYNDataLost, now)
	saved := a.Entries()
	b := &PathMemory{}
	b.Restore(saved)
	if st := b.decide(testKey, now, false); !st.skipped || st.cause != ReasonSYNRetransmitted {
		t.Fatalf("restored: %+v, want skipped", st)
	}
	// b learns of a later success; restoring the older failure over it
	// changes nothing.
	later := now.Add(DefaultPathBackoff)
	st := b.decide(testKey, later, false)
	st.record(outcomeSYNDataAcked, later)
	b.Restore(saved)
	if e, _ := b.lookup(testKey); e.Failures != 0 {
		t.Fatalf("an older failure overwrote a later success: %+v", e)
	}
}

// TestPathLookupAllocs: deciding for a known destination in good standing
// allocates nothing.
func TestPathLookupAllocs(t *testing.T) {
	m := &PathMemory{}
	now := time.Now()
	m.decide(testKey, now, false)
	if n := testing.AllocsPerRun(1000, func() {
		st := m.decide(testKey, now, false)
		st.record(outcomeSYNDataAcked, now)
	}); n != 0 {
		t.Fatalf("%v allocations per decide and record, want 0", n)
	}
}

// TestPathConcurrent runs decides and records from many goroutines (run
// with -race).
func TestPathConcurrent(t *testing.T) {
	m := &PathMemory{Size: 8, Backoff: time.Millisecond}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := pathKey{addr: netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 16)})}
				now := time.Now()
				st := m.decide(k, now, false)
				st.record(outcome(i%6), now)
				if i%100 == 0 {
					m.Entries()
				}
			}
		})
	}
	wg.Wait()
	if n := len(m.Entries()); n > 8 {
		t.Fatalf("%d entries, want at most Size 8", n)
	}
}

// BenchmarkPathDecide: the path memory's work on a warm dial to a known
// destination in good standing (decide, then record the success).
//
//	go test -run '^$' -bench PathDecide -benchmem .
func BenchmarkPathDecide(b *testing.B) {
	m := &PathMemory{}
	now := time.Now()
	m.decide(testKey, now, false)
	b.ReportAllocs()
	for b.Loop() {
		st := m.decide(testKey, now, false)
		st.record(outcomeSYNDataAcked, now)
	}
}
