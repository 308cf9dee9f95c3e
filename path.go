package fastopen

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a PathMemory whose fields are zero.
const (
	// DefaultPathBackoff is how long TFO is avoided after a first failure
	// on a path (RFC 7413 section 4.1.3.1 asks clients to cache such
	// failures).
	DefaultPathBackoff = time.Minute
	// DefaultMaxPathBackoff caps the doubling backoff.
	DefaultMaxPathBackoff = time.Hour
	// DefaultPathMemorySize is how many destinations a PathMemory keeps.
	DefaultPathMemorySize = 1024
)

// pathKernelRefresh is how often a dial re-reads what the kernel records
// for a destination (tcp_metrics), so that SYN-data losses seen by other
// processes are taken into account.
const pathKernelRefresh = 10 * time.Second

// pathProbeTimeout bounds how long a dial that probes TFO again after a
// backoff keeps other dials to the same destination off TFO while its
// outcome is unknown (a connection never written nor closed).
const pathProbeTimeout = 10 * time.Second

// DefaultPathMemory is the PathMemory of every Dialer whose PathMemory
// field is nil: all such Dialers of a process share what they learn, so a
// program needs to do nothing to be protected. Set a Dialer's own
// PathMemory to keep separate memories, or IgnorePathMemory to do without.
var DefaultPathMemory = &PathMemory{}

// PathMemory remembers, per destination, how TCP Fast Open fared, so that
// a Dialer stops paying for TFO on a path that punishes it, and tries it
// again later (RFC 7413 section 4.1.3.1).
//
// A destination is a server IP address in one network namespace; the port
// does not matter, as for the kernel's cookie cache. What is remembered:
//
//   - the SYN with data was lost and retransmitted without data
//     (ReasonSYNRetransmitted: a middlebox dropping SYNs with data; each
//     such connection waits for the SYN retransmission timeout, ~1 s);
//   - the SYN asking for a cookie, or the SYN-ACK bringing it, was lost
//     (ReasonCookieRequestLost: the same wait, on every first contact);
//   - the server did not acknowledge the data in the SYN
//     (ReasonDataNotAcked: costs nothing, since the kernel resends the data
//     at once, and happens once after a server's key changes; only a second
//     one in a row counts as a failure);
//   - success (the SYN data was acknowledged), which clears the failures.
//
// After a failure, dials to that destination leave TFO out (no
// TCP_FASTOPEN_CONNECT: a plain SYN, no cookie request) for Backoff,
// doubled for each further failure in a row up to MaxBackoff. Info then
// reports ReasonPathMemory and the time TFO is avoided until. The first
// dial after that time probes TFO again, alone: while its outcome is
// unknown other dials stay plain. A path that healed thus gets TFO back
// with one dial.
//
// On Linux a dial also reads what the kernel records for the destination
// (tcp_metrics fo_syn_drops and the age of the last drop, at most every
// 10 s per destination), so SYN-data losses met by other processes count
// too. The kernel records no lost cookie request; a program that runs
// briefly (a CLI) can carry its memory across runs with Entries and
// Restore.
//
// The zero value is ready to use; set the fields before the first use.
// A PathMemory is safe for concurrent use. It holds at most Size
// destinations, forgetting the least recently used first. Looking up a
// known destination takes a read lock and allocates nothing.
type PathMemory struct {
	// Backoff is how long TFO is avoided after a first failure; zero
	// means DefaultPathBackoff.
	Backoff time.Duration
	// MaxBackoff caps the backoff, which doubles with each failure in a
	// row; zero means DefaultMaxPathBackoff.
	MaxBackoff time.Duration
	// Size bounds the number of destinations; zero means
	// DefaultPathMemorySize.
	Size int

	mu sync.RWMutex
	m  map[pathKey]*pathEntry
}

// PathEntry is what a PathMemory knows about one destination. Times are
// wall-clock times; JSON names are snake case.
type PathEntry struct {
	// Namespace identifies the network namespace the destination was
	// dialed in (Linux SO_NETNS_COOKIE, unique while the system runs); 0
	// where unknown (Linux before 5.14, other systems).
	Namespace uint64 `json:"netns,omitempty"`
	// Addr is the destination's IP address.
	Addr netip.Addr `json:"addr"`
	// Failures counts failures in a row (zero after a success).
	Failures int `json:"failures"`
	// Cause is the last failure: ReasonSYNRetransmitted,
	// ReasonCookieRequestLost or ReasonDataNotAcked (ReasonNone if none).
	Cause Reason `json:"cause"`
	// AvoidUntil is when dials may use TFO again (zero: TFO is not
	// avoided).
	AvoidUntil time.Time `json:"avoid_until,omitzero"`
	// LastFailure and LastSuccess are when the last failure and the last
	// success were seen.
	LastFailure time.Time `json:"last_failure,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Successes counts dials whose SYN data was acknowledged.
	Successes uint64 `json:"successes"`
	// KernelSYNDrops is the kernel's fo_syn_drops for the destination when
	// last read (Linux).
	KernelSYNDrops uint16 `json:"kernel_syn_drops,omitempty"`
	// LastUsed is when a dial last looked the destination up.
	LastUsed time.Time `json:"last_used"`
}

// Avoided reports whether TFO is avoided for the destination at time t.
func (e PathEntry) Avoided(t time.Time) bool { return t.Before(e.AvoidUntil) }

type pathKey struct {
	ns   uint64
	addr netip.Addr
}

// pathEntry is guarded by PathMemory.mu (written under the write lock),
// except for its atomic fields.
type pathEntry struct {
	mem         *PathMemory // the memory that holds it (or held it: see record)
	key         pathKey
	failures    int
	cause       Reason
	notAcked    int // data-not-acked in a row
	until       time.Time
	lastFailure time.Time
	probeUntil  time.Time // a probe is in flight until then
	kernelDrops uint16
	kernelRead  atomic.Int64 // unix ns of the last tcp_metrics read
	lastUsed    atomic.Int64 // unix ns
	lastSuccess atomic.Int64 // unix ns
	successes   atomic.Uint64
}

// pathState is what the path memory decided for one dial, carried in its
// dialState; the Conn keeps what it needs of it (setPathLocked), with no
// allocation of its own unless TFO was left out.
type pathState struct {
	e             *pathEntry // the destination's entry; nil: no path memory
	until         deadline   // skipped: TFO avoided until then
	skipped       bool       // TFO left out because of the memory
	probe         bool       // TFO tried again after a backoff
	cause         Reason     // skipped: the failure remembered
	cookieReqLost bool       // the cookie-request SYN (or its SYN-ACK) was lost
	observed      bool       // the outcome was recorded when connect returned (a cookie request)
}

// watched reports whether the connection's outcome is for the path
// memory to learn: it has one, TFO was not left out, and the outcome is
// not recorded yet.
func (p *pathState) watched() bool { return p.e != nil && !p.skipped && !p.observed }

// learner returns the entry the connection's outcome is for, nil when
// there is none to learn (watched).
func (p *pathState) learner() *pathEntry {
	if !p.watched() {
		return nil
	}
	return p.e
}

// memory returns the PathMemory d uses, or nil.
func (d *Dialer) memory() *PathMemory {
	switch {
	case d.IgnorePathMemory || d.Disable:
		return nil
	case d.PathMemory != nil:
		return d.PathMemory
	}
	return DefaultPathMemory
}

func (m *PathMemory) size() int {
	if m.Size > 0 {
		return m.Size
	}
	return DefaultPathMemorySize
}

// backoff is the avoidance time after n failures in a row.
func (m *PathMemory) backoff(n int) time.Duration {
	b, max := m.Backoff, m.MaxBackoff
	if b <= 0 {
		b = DefaultPathBackoff
	}
	if max <= 0 {
		max = DefaultMaxPathBackoff
	}
	for i := 1; i < n && b < max; i++ {
		b *= 2
	}
	return min(b, max)
}

// kernelView is what the kernel records for a destination.
type kernelView struct {
	ok       bool          // read successfully (an absent entry is ok)
	synDrops uint16        // fo_syn_drops
	dropAge  time.Duration // time since the last drop
}

// decide tells whether a dial to k should use TFO. With useKernel it also
// reads what the kernel records for k (pathKernel) when that is due.
func (m *PathMemory) decide(k pathKey, now time.Time, useKernel bool) pathState {
	nowNs := now.UnixNano()
	m.mu.RLock()
	e := m.m[k]
	st := pathState{e: e}
	if e != nil {
		e.lastUsed.Store(nowNs)
		fresh := !useKernel || nowNs-e.kernelRead.Load() < int64(pathKernelRefresh)
		if fresh && e.failures == 0 {
			m.mu.RUnlock()
			return st // the hot path: a destination in good standing
		}
		if fresh && now.Before(e.until) {
			st.skipped, st.until, st.cause = true, deadlineOf(e.until), e.cause
			m.mu.RUnlock()
			return st
		}
	}
	m.mu.RUnlock()

	var kv kernelView
	read := useKernel && (e == nil || nowNs-e.kernelRead.Load() >= int64(pathKernelRefresh))
	if read {
		kv = pathKernel(k.addr)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e = m.entry(k, nowNs)
	st.e = e
	switch {
	case kv.ok:
		m.applyKernel(e, kv, now)
	case read:
		// Unreadable (no netlink here?): try again after the refresh
		// interval, not at every dial.
		e.kernelRead.Store(nowNs)
	}
	switch {
	case e.failures == 0:
	case now.Before(e.until):
		st.skipped, st.until, st.cause = true, deadlineOf(e.until), e.cause
	case now.Before(e.probeUntil):
		// Another dial is probing: wait for its outcome.
		st.skipped, st.until, st.cause = true, deadlineOf(e.probeUntil), e.cause
	default:
		st.probe = true
		e.probeUntil = now.Add(pathProbeTimeout)
	}
	return st
}

// applyKernel takes the kernel's record of SYN-data losses into e: its
// count and age give a backoff as if this process had seen them. m.mu is
// held for writing.
func (m *PathMemory) applyKernel(e *pathEntry, kv kernelView, now time.Time) {
	e.kernelRead.Store(now.UnixNano())
	e.kernelDrops = kv.synDrops
	if kv.synDrops == 0 {
		return
	}
	last := now.Add(-kv.dropAge)
	if until := last.Add(m.backoff(int(kv.synDrops))); until.After(e.until) {
		e.until, e.cause = until, ReasonSYNRetransmitted
		e.failures = max(e.failures, int(kv.synDrops))
		if last.After(e.lastFailure) {
			e.lastFailure = last
		}
	}
}

// entry returns k's entry, creating it (and forgetting the least recently
// used destination when full). m.mu is held for writing.
func (m *PathMemory) entry(k pathKey, nowNs int64) *pathEntry {
	if e := m.m[k]; e != nil {
		return e
	}
	if m.m == nil {
		m.m = make(map[pathKey]*pathEntry)
	}
	if len(m.m) >= m.size() {
		var oldest pathKey
		t := int64(1<<63 - 1)
		for k, e := range m.m {
			if u := e.lastUsed.Load(); u < t {
				oldest, t = k, u
			}
		}
		delete(m.m, oldest)
	}
	e := &pathEntry{mem: m, key: k}
	e.lastUsed.Store(nowNs)
	m.m[k] = e
	return e
}

// outcome is what a connection showed about TFO on its path.
type outcome uint8

const (
	outcomeNone           outcome = iota // nothing learned (no data sent, handshake never ended)
	outcomeSYNDataAcked                  // success
	outcomeCookieReceived                // a cookie request went through (not proof that data will)
	outcomeSYNDataLost                   // ReasonSYNRetransmitted
	outcomeCookieReqLost                 // ReasonCookieRequestLost
	outcomeDataNotAcked                  // ReasonDataNotAcked
)

// record applies a connection's outcome to the memory.
func (p *pathState) record(o outcome, now time.Time) {
	if p.e != nil {
		p.e.record(o, p.probe, now)
	}
}

// record applies the outcome o of a connection to e's destination; probe
// says the dial tried TFO again after a backoff. An entry the memory has
// forgotten meanwhile (it was full) is made again.
func (e *pathEntry) record(o outcome, probe bool, now time.Time) {
	if o == outcomeNone && !probe {
		return
	}
	m := e.mem
	nowNs := now.UnixNano()
	if o == outcomeSYNDataAcked {
		// The hot path: nothing to change but the counters.
		m.mu.RLock()
		if m.m[e.key] == e && e.failures == 0 && e.notAcked == 0 && e.probeUntil.IsZero() {
			e.lastSuccess.Store(nowNs)
			e.successes.Add(1)
			m.mu.RUnlock()
			return
		}
		m.mu.RUnlock()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apply(m.entry(e.key, nowNs), o, probe, now)
}

// apply changes e for outcome o at time now; probe says the connection
// was a dial that tried TFO again after a backoff. m.mu is held for
// writing.
func (m *PathMemory) apply(e *pathEntry, o outcome, probe bool, now time.Time) {
	if probe {
		e.probeUntil = time.Time{}
	}
	fail := func(cause Reason) {
		e.failures++
		e.cause = cause
		e.lastFailure = now
		e.until = now.Add(m.backoff(e.failures))
	}
	switch o {
	case outcomeSYNDataAcked:
		e.failures, e.notAcked, e.cause, e.until = 0, 0, ReasonNone, time.Time{}
		e.lastSuccess.Store(now.UnixNano())
		e.successes.Add(1)
	case outcomeCookieReceived:
		// A lost cookie request is healed by one that goes through;
		// lost SYN data is not (the next probe will tell).
		if e.cause == ReasonCookieRequestLost {
			e.failures, e.cause, e.until = 0, ReasonNone, time.Time{}
		}
	case outcomeSYNDataLost:
		e.notAcked = 0
		fail(ReasonSYNRetransmitted)
	case outcomeCookieReqLost:
		fail(ReasonCookieRequestLost)
	case outcomeDataNotAcked:
		e.notAcked++
		if e.notAcked >= 2 {
			fail(ReasonDataNotAcked)
		}
	}
}

// recordOutcomes maps what Record accepts to the outcome a connection
// shows; the failures' reasons are the causes apply records.
var recordOutcomes = map[Reason]outcome{
	ReasonNone:              outcomeSYNDataAcked,
	ReasonSYNRetransmitted:  outcomeSYNDataLost,
	ReasonCookieRequestLost: outcomeCookieReqLost,
	ReasonDataNotAcked:      outcomeDataNotAcked,
}

// Record tells m what was learned about TFO to addr, dialed from the
// calling thread's network namespace, by other means than a Dialer's
// connection (such as a probe of the path): ReasonNone for success (data
// in the SYN acknowledged), which clears the failures, or one of the
// failure causes a PathEntry's Cause holds (ReasonSYNRetransmitted,
// ReasonCookieRequestLost, ReasonDataNotAcked), which counts as a failure
// in a row with the same backoff as a Dialer's. A Dialer waits for a
// second ReasonDataNotAcked in a row before it counts one (a single one
// follows a server's key change); Record counts it at once, since the
// caller has seen it repeat. Any other reason, or an invalid addr, is an
// error and changes nothing.
func (m *PathMemory) Record(addr netip.Addr, cause Reason) error {
	o, ok := recordOutcomes[cause]
	switch {
	case !addr.IsValid():
		return errors.New("fastopen: PathMemory.Record: invalid address")
	case !ok:
		return fmt.Errorf("fastopen: PathMemory.Record: %q is not a path outcome (want ReasonNone, ReasonSYNRetransmitted, ReasonCookieRequestLost or ReasonDataNotAcked)", cause.Code())
	}
	k := pathKey{ns: currentNamespace(), addr: addr.Unmap()}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entry(k, now.UnixNano())
	e.lastUsed.Store(now.UnixNano())
	if o == outcomeDataNotAcked {
		e.notAcked = max(e.notAcked, 1)
	}
	m.apply(e, o, false, now)
	return nil
}

// Lookup returns what m knows about addr as dialed from the calling
// thread's network namespace.
func (m *PathMemory) Lookup(addr netip.Addr) (PathEntry, bool) {
	return m.lookup(pathKey{ns: currentNamespace(), addr: addr.Unmap()})
}

func (m *PathMemory) lookup(k pathKey) (PathEntry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.m[k]
	if e == nil {
		return PathEntry{}, false
	}
	return e.export(k), true
}

// Forget makes m forget addr (in every network namespace), or every
// destination when addr is the zero Addr: the next dial uses TFO.
func (m *PathMemory) Forget(addr netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !addr.IsValid() {
		clear(m.m)
		return
	}
	addr = addr.Unmap()
	for k := range m.m {
		if k.addr == addr {
			delete(m.m, k)
		}
	}
}

// Entries returns everything m knows, sorted by address.
func (m *PathMemory) Entries() []PathEntry {
	m.mu.RLock()
	out := make([]PathEntry, 0, len(m.m))
	for k, e := range m.m {
		out = append(out, e.export(k))
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b PathEntry) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(a.Namespace, b.Namespace)
	})
	return out
}

// Restore adds entries (from Entries, perhaps of an earlier run) to m. For
// a destination m already knows, the entry with the later failure or
// success wins. Entries without a valid address are skipped; at most Size
// are kept.
func (m *PathMemory) Restore(entries []PathEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, pe := range entries {
		if !pe.Addr.IsValid() {
			continue
		}
		k := pathKey{ns: pe.Namespace, addr: pe.Addr.Unmap()}
		if old := m.m[k]; old != nil {
			o := old.export(k)
			if !later(pe.LastFailure, pe.LastSuccess, o.LastFailure, o.LastSuccess) {
				continue
			}
		}
		e := m.entry(k, pe.LastUsed.UnixNano())
		e.failures, e.cause, e.until, e.lastFailure = max(pe.Failures, 0), pe.Cause, pe.AvoidUntil, pe.LastFailure
		e.notAcked, e.probeUntil = 0, time.Time{}
		if e.cause == ReasonDataNotAcked && e.failures == 0 {
			e.notAcked = 1
		}
		e.kernelDrops = pe.KernelSYNDrops
		e.lastUsed.Store(pe.LastUsed.UnixNano())
		if !pe.LastSuccess.IsZero() {
			e.lastSuccess.Store(pe.LastSuccess.UnixNano())
		}
		e.successes.Store(pe.Successes)
	}
}

// later reports whether the news (failure f1 or success s1) is later than
// (f2, s2).
func later(f1, s1, f2, s2 time.Time) bool {
	a, b := f1, f2
	if s1.After(a) {
		a = s1
	}
	if s2.After(b) {
		b = s2
	}
	return a.After(b)
}

func (e *pathEntry) export(k pathKey) PathEntry {
	pe := PathEntry{
		Namespace: k.ns, Addr: k.addr, Failures: e.failures, Cause: e.cause, LastFailure: e.lastFailure,
		Successes: e.successes.Load(), KernelSYNDrops: e.kernelDrops, LastUsed: fromNs(e.lastUsed.Load()),
		LastSuccess: fromNs(e.lastSuccess.Load()),
	}
	if e.failures > 0 {
		pe.AvoidUntil = e.until
	}
	if e.cause == ReasonNone && e.notAcked > 0 {
		pe.Cause = ReasonDataNotAcked
	}
	return pe
}

func fromNs(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// end concludes a probe whose connection failed before it could show
// anything (a refused or timed-out connect): other dials need not wait
// for it. It does nothing for a dial that is not a probe.
func (p *pathState) end() {
	if p.probe {
		p.record(outcomeNone, time.Now())
		p.probe = false
	}
}

// ReadKernel applies what the kernel's TCP metrics record (fo_syn_drops
// and the age of the last drop) for every destination it knows, in the
// calling thread's network namespace, as dials do for theirs: after it,
// Entries shows the destinations the kernel's record makes avoided. Only
// Linux has such a record; elsewhere it does nothing.
func (m *PathMemory) ReadKernel() error {
	views, err := pathKernelAll()
	if err != nil {
		return err
	}
	now := time.Now()
	ns := currentNamespace()
	for addr, kv := range views {
		if kv.synDrops == 0 {
			continue
		}
		k := pathKey{ns: ns, addr: addr}
		m.mu.Lock()
		m.applyKernel(m.entry(k, now.UnixNano()), kv, now)
		m.mu.Unlock()
	}
	return nil
}
