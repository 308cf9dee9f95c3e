package probe

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
)

// TestPathCauseBothWays: every verdict either maps to a cause the path
// memory accepts (PathMemory.Record) or is listed as having none; every
// reason the path memory records as a failure maps to a verdict that maps
// back to it. A value gained on either side without a mapping fails here.
func TestPathCauseBothWays(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.7")
	for _, v := range Verdicts() {
		c, ok := v.PathCause()
		if listed := slices.Contains(noPathCause, v); ok == listed {
			t.Errorf("verdict %s: has a path cause: %v, listed in noPathCause: %v; want exactly one of the two", v, ok, listed)
			continue
		}
		if !ok {
			continue
		}
		m := &fastopen.PathMemory{}
		if err := m.Record(addr, c); err != nil {
			t.Errorf("verdict %s: its cause %q is not one the path memory records: %v", v, c.Code(), err)
			continue
		}
		e, _ := m.Lookup(addr)
		switch {
		case c == fastopen.ReasonNone && (e.Failures != 0 || e.Successes != 1):
			t.Errorf("verdict %s: recorded as %+v, want a success", v, e)
		case c != fastopen.ReasonNone && (e.Cause != c || e.Failures != 1):
			t.Errorf("verdict %s: recorded as %+v, want one failure with cause %s", v, e, c.Code())
		}
		if c == fastopen.ReasonNone {
			if v != Works {
				t.Errorf("verdict %s maps to a success: only works may", v)
			}
			continue
		}
		back, ok := CauseVerdict(c)
		if !ok || back.Category() != v.Category() {
			t.Errorf("verdict %s → cause %s → verdict %s (ok %v): want a verdict of the same category", v, c.Code(), back, ok)
		}
	}
	// The other way: every Reason the path memory accepts as a failure.
	causes := 0
	for r := fastopen.Reason(0); !strings.HasPrefix(r.Code(), "reason_"); r++ {
		m := &fastopen.PathMemory{}
		if r == fastopen.ReasonNone || m.Record(addr, r) != nil {
			if _, ok := CauseVerdict(r); ok {
				t.Errorf("CauseVerdict(%s) is ok, but the path memory does not record it as a failure", r.Code())
			}
			continue
		}
		causes++
		v, ok := CauseVerdict(r)
		if !ok {
			t.Errorf("the path memory records cause %q, which has no verdict (add it to causeVerdicts)", r.Code())
			continue
		}
		if c, ok := v.PathCause(); !ok || c != r {
			t.Errorf("cause %s → verdict %s → cause %s (ok %v): want the round trip", r.Code(), v, c.Code(), ok)
		}
		if v.Category() != CategoryPath && v.Category() != CategoryServer {
			t.Errorf("cause %s → verdict %s of category %s: a failure the Dialer avoids must be the path's or the server's", r.Code(), v, v.Category())
		}
	}
	if causes != len(causeVerdicts) {
		t.Errorf("the path memory records %d failure causes, causeVerdicts maps %d", causes, len(causeVerdicts))
	}
}

// TestComparePath: the verdict and the path memory's entry are compared
// through the one mapping, and a disagreement says what to do.
func TestComparePath(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.7")
	now := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	avoided := fastopen.PathEntry{Addr: addr, Failures: 2, Cause: fastopen.ReasonSYNRetransmitted, AvoidUntil: now.Add(90 * time.Second), KernelSYNDrops: 2}
	expired := fastopen.PathEntry{Addr: addr, Failures: 1, Cause: fastopen.ReasonDataNotAcked, AvoidUntil: now.Add(-time.Second)}
	good := fastopen.PathEntry{Addr: addr, Successes: 3}
	for _, c := range []struct {
		name     string
		v        Verdict
		e        fastopen.PathEntry
		found    bool
		state    string
		match    string
		contains string
	}{
		{"healed", Works, avoided, true, PathAvoided, PathDisagrees, "`fastopen cookies forget 192.0.2.7`"},
		{"works, nothing known", Works, fastopen.PathEntry{}, false, PathUnknown, PathAgrees, "knows nothing"},
		{"works, used", Works, good, true, PathUsed, PathAgrees, "3 success"},
		{"broken, nothing known", SYNDataDropped, fastopen.PathEntry{}, false, PathUnknown, PathDisagrees, "--teach"},
		{"broken, avoided", SYNDataDropped, avoided, true, PathAvoided, PathAgrees, "until 15:01:30 UTC (1m30s from now) because of syn_retransmitted (syn_data_dropped"},
		{"blackholed, avoided", TFOBlackholed, avoided, true, PathAvoided, PathAgrees, "fo_syn_drops"},
		{"cookie changes, backoff over", CookieChanges, expired, true, PathRetry, PathDisagrees, "would record data_not_acked"},
		{"no cookie, avoided", NoCookie, avoided, true, PathAvoided, PathNotComparable, "avoids TFO"},
	} {
		pv := comparePath(c.v, addr, c.e, c.found, now)
		text := pv.Text + " | " + pv.Disagreement
		if pv.State != c.state || pv.Match != c.match || !strings.Contains(text, c.contains) || (pv.Match == PathDisagrees) != (pv.Disagreement != "") {
			t.Errorf("%s: state %s, match %s, text %q; want %s, %s, containing %q", c.name, pv.State, pv.Match, text, c.state, c.match, c.contains)
		}
	}
}
