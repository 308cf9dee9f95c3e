package probe

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/fastopen/fastopen"
)

// States of a PathView: what a Dialer does next for the address.
const (
	// PathUnknown: the path memory holds nothing for the address; dials
	// use TFO.
	PathUnknown = "unknown"
	// PathUsed: no failure remembered; dials use TFO.
	PathUsed = "tfo"
	// PathAvoided: dials leave TFO out until Until because of Cause.
	PathAvoided = "avoided"
	// PathRetry: failures were remembered, their backoff is over: the
	// next dial tries TFO again (and its outcome decides).
	PathRetry = "retry"
)

// Matches of a PathView: how the probe's verdict and the path memory
// compare.
const (
	// PathAgrees: the memory does what the verdict calls for (avoids a
	// path or server that fails TFO, uses TFO where it works).
	PathAgrees = "agrees"
	// PathDisagrees: it does not; Disagreement says how, and what to do.
	PathDisagrees = "disagrees"
	// PathNotComparable: the verdict says nothing the path memory keeps
	// (no cookie offered, local setup, unreachable, inconclusive).
	PathNotComparable = "not_comparable"
)

// PathView is what this machine's path memory — the one a Dialer consults:
// its own entries (for the CLI, the state file) and the kernel's record
// of SYN-data losses (tcp_metrics fo_syn_drops) — says about one address
// after its probe, next to the probe's verdict. Causes are read in the
// probe's words through CauseVerdict, the verdict in the memory's through
// Verdict.PathCause.
type PathView struct {
	// State is PathUnknown, PathUsed, PathAvoided or PathRetry.
	State string `json:"state"`
	// Until, when avoided, is when dials may use TFO again. JSON: RFC 3339.
	Until time.Time `json:"until,omitzero"`
	// Cause is the last failure remembered, CauseVerdict it in the
	// probe's words.
	Cause        fastopen.Reason `json:"cause,omitempty"`
	CauseVerdict Verdict         `json:"cause_verdict,omitempty"`
	// Failures counts failures in a row, KernelSYNDrops is the kernel's
	// fo_syn_drops as the memory read it.
	Failures       int `json:"failures"`
	KernelSYNDrops int `json:"kernel_syn_drops"`
	// Text says it in words.
	Text string `json:"text"`
	// Match is PathAgrees, PathDisagrees or PathNotComparable;
	// Disagreement explains a disagreement and what to do.
	Match        string `json:"match"`
	Disagreement string `json:"disagreement,omitempty"`
	// Taught says what the probe recorded in the path memory
	// (Prober.Teach), and what the memory says after it.
	Taught string `json:"taught,omitempty"`
}

// comparePath describes entry e of addr (found: the memory has one) at
// time now and compares it with verdict v.
func comparePath(v Verdict, addr netip.Addr, e fastopen.PathEntry, found bool, now time.Time) *PathView {
	pv := &PathView{State: PathUnknown, Failures: e.Failures, KernelSYNDrops: int(e.KernelSYNDrops)}
	if e.Failures > 0 {
		pv.Cause = e.Cause
		pv.CauseVerdict, _ = CauseVerdict(e.Cause)
	}
	switch {
	case !found:
		pv.Text = fmt.Sprintf("the path memory knows nothing of %s: the Dialer uses TFO to it", addr)
	case e.Avoided(now):
		pv.State, pv.Until = PathAvoided, e.AvoidUntil
		pv.Text = fmt.Sprintf("the Dialer currently avoids TFO to %s until %s (%s from now) because of %s",
			addr, e.AvoidUntil.UTC().Format("15:04:05 MST"), e.AvoidUntil.Sub(now).Round(time.Second), causeWords(e.Cause))
	case e.Failures > 0:
		pv.State = PathRetry
		pv.Text = fmt.Sprintf("the path memory remembers %d failure(s) with TFO to %s (last: %s), but their backoff is over: the next dial tries TFO again",
			e.Failures, addr, causeWords(e.Cause))
	default:
		pv.State = PathUsed
		pv.Text = fmt.Sprintf("the path memory remembers no failure with TFO to %s (%d success(es)): the Dialer uses TFO to it", addr, e.Successes)
	}
	if e.KernelSYNDrops > 0 {
		pv.Text += fmt.Sprintf("; the kernel records %d SYN(s) with data lost (fo_syn_drops)", e.KernelSYNDrops)
	}
	cause, ok := v.PathCause()
	switch {
	case !ok:
		pv.Match = PathNotComparable
	case cause == fastopen.ReasonNone && pv.State == PathAvoided:
		pv.Match = PathDisagrees
		pv.Disagreement = fmt.Sprintf("the probe found that TFO works, yet the Dialer avoids it until %s: a path that healed; `fastopen cookies forget %s` to try TFO again at once (or probe with --teach)",
			e.AvoidUntil.UTC().Format("15:04:05 MST"), addr)
	case cause != fastopen.ReasonNone && pv.State != PathAvoided:
		pv.Match = PathDisagrees
		pv.Disagreement = fmt.Sprintf("the probe found %s (the Dialer would record %s), yet the path memory does not avoid TFO to %s: the next dials try TFO and meet this failure until they learn it; probe with --teach to record it now",
			v, cause.Code(), addr)
	default:
		pv.Match = PathAgrees
	}
	return pv
}

// causeWords names a path memory cause with the verdict that describes it.
func causeWords(c fastopen.Reason) string {
	if v, ok := CauseVerdict(c); ok {
		return fmt.Sprintf("%s (%s: %s)", c.Code(), v, c.String())
	}
	return c.Code()
}

// memory is the path memory the probe consults and teaches.
func (p *Prober) memory() *fastopen.PathMemory {
	if p.PathMemory != nil {
		return p.PathMemory
	}
	return fastopen.DefaultPathMemory
}

// consultPath fills res.Path: what the path memory says about the address
// now, as a Dialer sees it (its entries and the kernel's record, read in
// the calling thread's network namespace), compared with the verdict;
// with Teach, the verdict is then recorded in the memory.
func (p *Prober) consultPath(res *Address) {
	m := p.memory()
	addr := res.Address.Addr()
	// A copy takes the kernel's record, as a dial does, without adding
	// every destination the kernel knows to the memory.
	view := &fastopen.PathMemory{Backoff: m.Backoff, MaxBackoff: m.MaxBackoff, Size: m.Size}
	view.Restore(m.Entries())
	kerr := view.ReadKernel()
	e, found := view.Lookup(addr)
	now := time.Now()
	res.Path = comparePath(res.Verdict, addr, e, found, now)
	if kerr != nil {
		res.Path.Text += fmt.Sprintf(" (the kernel's record could not be read: %v)", kerr)
	}
	if !p.Teach {
		return
	}
	cause, ok := res.Verdict.PathCause()
	if !ok {
		res.Path.Taught = fmt.Sprintf("nothing: the path memory keeps nothing for %s", res.Verdict)
		return
	}
	if err := m.Record(addr, cause); err != nil {
		res.Path.Taught = fmt.Sprintf("nothing: %v", err)
		return
	}
	after, _ := m.Lookup(addr)
	what := "a success (earlier failures cleared)"
	if cause != fastopen.ReasonNone {
		what = "a failure, " + cause.Code()
	}
	res.Path.Taught = fmt.Sprintf("recorded %s for %s", what, addr)
	if after.Avoided(now) {
		res.Path.Taught += fmt.Sprintf(": dials avoid TFO to it until %s", after.AvoidUntil.UTC().Format("15:04:05 MST"))
	} else {
		res.Path.Taught += ": dials use TFO to it"
	}
}
