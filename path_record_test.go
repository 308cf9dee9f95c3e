package fastopen

import (
	"net/netip"
	"testing"
	"time"
)

// TestPathRecord: Record keeps the causes a Dialer's connections keep,
// with the same doubling backoff; a success clears them; anything else is
// refused without a change.
func TestPathRecord(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.9")
	for _, cause := range []Reason{ReasonSYNRetransmitted, ReasonCookieRequestLost, ReasonDataNotAcked} {
		m := &PathMemory{Backoff: time.Minute}
		start := time.Now()
		for i := 1; i <= 2; i++ {
			if err := m.Record(addr, cause); err != nil {
				t.Fatalf("Record(%s): %v", cause.Code(), err)
			}
			e, ok := m.Lookup(addr)
			want := time.Duration(1<<(i-1)) * time.Minute // as a Dialer: doubled per failure in a row
			if !ok || e.Cause != cause || e.Failures != i || !e.Avoided(time.Now()) ||
				e.AvoidUntil.Before(start.Add(want)) || e.AvoidUntil.After(time.Now().Add(want)) {
				t.Fatalf("after %d Record(%s): %+v (found %v); want %d failures, cause %s, avoided for %v", i, cause.Code(), e, ok, i, cause.Code(), want)
			}
		}
		if err := m.Record(addr, ReasonNone); err != nil {
			t.Fatal(err)
		}
		if e, _ := m.Lookup(addr); e.Failures != 0 || e.Cause != ReasonNone || e.Avoided(time.Now()) || e.Successes != 1 {
			t.Errorf("after a recorded success following %s: %+v, want no failure", cause.Code(), e)
		}
	}
	m := &PathMemory{}
	for r := Reason(0); int(r) < len(reasonText); r++ {
		if _, ok := recordOutcomes[r]; ok {
			continue
		}
		if err := m.Record(addr, r); err == nil {
			t.Errorf("Record(%s): no error, want one", r.Code())
		}
	}
	if err := m.Record(netip.Addr{}, ReasonSYNRetransmitted); err == nil {
		t.Error("Record of the zero Addr: no error")
	}
	if es := m.Entries(); len(es) != 0 {
		t.Errorf("refused Records changed the memory: %+v", es)
	}
}
