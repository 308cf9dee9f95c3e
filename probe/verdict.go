package probe

import (
	"bytes"
	"time"

	"github.com/fastopen/fastopen"
)

// Verdict is what a probe concluded about TCP Fast Open to one address,
// or overall. Its text form (the constant's value) is stable, for JSON,
// metrics labels and scripts; Describe and Advice put it in plain words.
//
// The verdicts and Classify depend only on the standard library and the
// root package's Reason, so that a Dialer's path memory can record its
// observations in the same words (see Category and Classify).
type Verdict string

// Verdicts.
const (
	// Works: data rode in the SYN and the server acknowledged it.
	Works Verdict = "works"
	// NoCookie: the server gave no cookie when asked. Either it has TFO
	// off, or a middlebox strips the option from the SYN or the SYN-ACK;
	// a client alone sees the same thing in all these cases.
	NoCookie Verdict = "no_cookie"
	// CookieChanges: the server gave a cookie, but a different one on
	// every connection, and refused the previous one: cookies cannot be
	// reused (keys rotated per connection, or servers with different keys
	// behind one address).
	CookieChanges Verdict = "cookie_changes"
	// DataNotAcked: the cookie stays the same, yet the server's SYN-ACK
	// does not acknowledge the data in the SYN (its TFO queue is full, or
	// something between ignores the data).
	DataNotAcked Verdict = "data_not_acked"
	// SYNDataDropped: SYNs that carry data are lost, their retransmission
	// without data gets through: a middlebox drops SYNs with data.
	SYNDataDropped Verdict = "syn_data_dropped"
	// SYNOptionDropped: SYNs that ask for a cookie are lost, their
	// retransmission without the TFO option gets through, and the server
	// never saw the first one.
	SYNOptionDropped Verdict = "syn_option_dropped"
	// SYNACKCookieDropped: the server answered the cookie request, but its
	// SYN-ACK carrying the cookie was lost; the one answering the
	// retransmitted SYN (without option) got through.
	SYNACKCookieDropped Verdict = "synack_cookie_dropped"
	// CookieRequestLost: SYNs asking for a cookie, or the SYN-ACKs
	// carrying it, are lost while plain SYNs pass; which of the two could
	// not be told (no timestamps and no capture).
	CookieRequestLost Verdict = "cookie_request_lost"
	// OptionStripped: the SYN-ACK arrived with a run of NOP options where
	// an option was blanked out by a middlebox (seen in a capture).
	OptionStripped Verdict = "option_stripped"
	// TFOBlackholed: connections that try TFO get no answer at all while
	// plain TCP connections do.
	TFOBlackholed Verdict = "tfo_blackholed"
	// BlackholePause: the kernel has paused client TFO after it suspected
	// a middlebox blackhole (net.ipv4.tcp_fastopen_blackhole_timeout_sec):
	// it sends neither data nor cookie requests in SYNs for now.
	BlackholePause Verdict = "blackhole_pause"
	// ClientOff: TFO is off for clients in this kernel or network
	// namespace (net.ipv4.tcp_fastopen lacks bit 0x1), or unsupported.
	ClientOff Verdict = "client_off"
	// Unreachable: neither TFO nor plain TCP connections were answered;
	// nothing can be said about TFO.
	Unreachable Verdict = "unreachable"
	// Inconclusive: the connections did not show enough to decide.
	Inconclusive Verdict = "inconclusive"
)

// Category groups verdicts by who must act; each has its exit status in
// the CLI.
type Category string

// Categories.
const (
	// CategoryWorks: TFO works.
	CategoryWorks Category = "works"
	// CategoryServer: the server does not offer usable TFO.
	CategoryServer Category = "server"
	// CategoryPath: the network between breaks TFO.
	CategoryPath Category = "path"
	// CategoryLocal: this machine's setup prevents TFO.
	CategoryLocal Category = "local"
	// CategoryUnreachable: the address did not answer.
	CategoryUnreachable Category = "unreachable"
)

var verdictInfo = map[Verdict]struct {
	cat          Category
	text, advice string
}{
	Works: {CategoryWorks, "TFO works: data rode in the SYN and the server acknowledged it",
		"nothing to do"},
	NoCookie: {CategoryServer, "the server offers no TFO cookie (TFO off on the server, or a middlebox strips the option: a client alone cannot tell these apart)",
		"enable TFO on the server (Linux: net.ipv4.tcp_fastopen bit 0x2 and TCP_FASTOPEN on the listener, nginx `listen ... fastopen=N`); if it is on, capture at the server to see whether the option arrives"},
	CookieChanges: {CategoryServer, "the server offers a cookie but a different one on every connection and refuses the previous one: cookies cannot be reused",
		"give every server behind this address the same TFO key and rotate it with overlap (`fastopen key rotate`, `fastopen serve --key-file`)"},
	DataNotAcked: {CategoryServer, "the server offers a stable cookie, but its SYN-ACK does not acknowledge the data in the SYN (data sent again after the handshake)",
		"check the server's TFO queue (TcpExt.TCPFastOpenListenOverflow) and that the listener keeps TCP_FASTOPEN; `fastopen stats` on the server"},
	SYNDataDropped: {CategoryPath, "SYNs carrying data are dropped on the path; their retransmission without data gets through (each try costs a SYN timeout, about 1 s)",
		"do not use TFO on this path (or find the middlebox: firewall, NAT or DPI dropping SYNs with payload)"},
	SYNOptionDropped: {CategoryPath, "SYNs with the TFO option are dropped on the path; the retransmission without it gets through (about 1 s lost per connection)",
		"do not use TFO on this path (or find the middlebox that drops SYNs with unknown options)"},
	SYNACKCookieDropped: {CategoryPath, "the server answers the cookie request, but its SYN-ACK carrying the cookie is dropped on the way back (about 1 s lost per connection)",
		"do not use TFO on this path (or find the middlebox that drops SYN-ACKs with the TFO option)"},
	CookieRequestLost: {CategoryPath, "SYNs asking for a cookie, or the SYN-ACKs carrying it, are dropped on the path while plain SYNs pass (about 1 s lost per connection)",
		"do not use TFO on this path; run the probe with --trace (and TCP timestamps on) to tell which direction drops"},
	OptionStripped: {CategoryPath, "a middlebox strips the TFO option: the SYN-ACK arrived with a run of NOPs where an option was blanked out",
		"TFO cannot work on this path; find the middlebox that rewrites TCP options"},
	TFOBlackholed: {CategoryPath, "connections that try TFO get no answer at all, while plain TCP connections do",
		"do not use TFO on this path; find the middlebox that drops them"},
	BlackholePause: {CategoryLocal, "this kernel has paused client TFO after it suspected a middlebox blackhole: SYNs carry neither data nor cookie requests for now",
		"see `fastopen check`; the pause ends by itself (net.ipv4.tcp_fastopen_blackhole_timeout_sec, doubling per event); set it to 0 to stop pausing"},
	ClientOff: {CategoryLocal, "client TFO is off in this kernel or network namespace (or the kernel lacks TCP_FASTOPEN_CONNECT: Linux before 4.11)",
		"run `fastopen enable client` (net.ipv4.tcp_fastopen bit 0x1)"},
	Unreachable: {CategoryUnreachable, "no connection was answered, with or without TFO",
		"check that the service is up and reachable from here (firewall, address, port)"},
	Inconclusive: {CategoryUnreachable, "the connections did not show enough to decide",
		"probe again with a larger --count or --timeout"},
}

// Category says who must act on v.
func (v Verdict) Category() Category {
	if i, ok := verdictInfo[v]; ok {
		return i.cat
	}
	return CategoryUnreachable
}

// Describe says what v means in plain words.
func (v Verdict) Describe() string {
	if i, ok := verdictInfo[v]; ok {
		return i.text
	}
	return string(v)
}

// Advice says what to do about v.
func (v Verdict) Advice() string { return verdictInfo[v].advice }

// Verdicts lists every verdict, for documentation and metrics.
func Verdicts() []Verdict {
	return []Verdict{Works, NoCookie, CookieChanges, DataNotAcked, SYNDataDropped, SYNOptionDropped,
		SYNACKCookieDropped, CookieRequestLost, OptionStripped, TFOBlackholed, BlackholePause, ClientOff,
		Unreachable, Inconclusive}
}

// Observation is what one connection showed: what the client saw, from
// TCP_INFO (through fastopen.Info), the kernel's cookie cache and the
// clock. It is the input of Classify.
type Observation struct {
	// FastOpen: the connection tried TFO (false: a plain connection).
	FastOpen bool `json:"fastopen"`
	// Failed: the connection was not established (or not answered).
	Failed bool `json:"failed"`
	// HadCookie, SentInSYN, SYNData and Reason are fastopen.Info's.
	HadCookie bool            `json:"had_cookie"`
	SentInSYN bool            `json:"sent_in_syn"`
	SYNData   bool            `json:"syn_data"`
	Reason    fastopen.Reason `json:"reason"`
	// SYNRetransmitted: the handshake needed more than one SYN (TCP_INFO
	// tcpi_total_retrans right after the handshake of a connection that
	// sent no data in its SYN).
	SYNRetransmitted bool `json:"syn_retransmitted"`
	// HandshakeRTT is the kernel's first RTT sample, taken from the
	// SYN-ACK: with TCP timestamps it measures from the SYN the server
	// answered, so after a retransmission it tells which SYN that was.
	HandshakeRTT time.Duration `json:"handshake_rtt_ns"`
	// Slow: the answer came later than a SYN timeout (1 s). Kernels
	// before 5.5 do not say why SYN data was not acknowledged (Reason is
	// ReasonUnknown); a retransmitted SYN then shows only in the time.
	Slow bool `json:"slow"`
	// CookieSent and CookieAfter are the kernel's cached cookie for the
	// server before the connection and after it.
	CookieSent  []byte `json:"-"`
	CookieAfter []byte `json:"-"`
}

// Evidence is everything Classify decides from for one address.
type Evidence struct {
	// ClientOff: the kernel refused client TFO (Reason kernel_off or
	// unsupported on the sockets).
	ClientOff bool
	// Conns are the connections in the order they were made.
	Conns []Observation
	// SYNDrops is the kernel's fo_syn_drops for the address (tcp_metrics).
	SYNDrops int
	// Capture is what a capture of the probe's own packets showed; nil
	// without one.
	Capture *CaptureEvidence
}

// CaptureEvidence is what the client's capture adds.
type CaptureEvidence struct {
	// OptionBlanked: a SYN-ACK had a run of NOP options where an option
	// had been overwritten.
	OptionBlanked bool
	// CookieRequestAnswered: for a cookie request whose SYN was
	// retransmitted, the SYN-ACK echoed the timestamp of the first SYN,
	// so the server had received it (its answer was lost). Set only when
	// it could be told.
	CookieRequestAnswered *bool
}

// slowHandshake is how much longer than a plain connection's handshake
// the RTT sample of a retransmitted cookie request must be to show that
// the server answered the first SYN: the SYN timeout is 1 s, RTTs over
// 500 ms are rare.
const slowHandshake = 500 * time.Millisecond

// Classify decides the verdict for one address from what its connections
// showed. It is deterministic and needs no privileges: the same evidence
// always gives the same verdict. Random loss is told apart from a
// middlebox by requiring the failure to repeat and plain connections to
// pass.
func Classify(ev Evidence) Verdict {
	if ev.ClientOff {
		return ClientOff
	}
	var tfo, plain, data, requests []Observation
	for _, o := range ev.Conns {
		if o.FastOpen && (o.Reason == fastopen.ReasonKernelOff || o.Reason == fastopen.ReasonUnsupported) {
			return ClientOff
		}
		switch {
		case o.Failed:
		case o.FastOpen:
			tfo = append(tfo, o)
			if o.SentInSYN {
				data = append(data, o)
			} else if !o.HadCookie {
				requests = append(requests, o)
			}
		default:
			plain = append(plain, o)
		}
	}
	switch {
	case len(tfo) == 0 && len(plain) == 0:
		return Unreachable
	case len(tfo) == 0:
		return TFOBlackholed
	}
	for _, o := range data {
		if o.SYNData {
			return Works
		}
	}
	for _, o := range tfo {
		if o.Reason == fastopen.ReasonUnknown && !o.SentInSYN {
			return BlackholePause
		}
	}
	if len(data) > 0 {
		var dropped, notAcked, changed int
		for _, o := range data {
			switch o.Reason {
			case fastopen.ReasonSYNRetransmitted:
				dropped++
			case fastopen.ReasonUnknown:
				// Linux < 5.5: no reason recorded; the cost tells.
				if o.Slow {
					dropped++
					continue
				}
				fallthrough
			case fastopen.ReasonDataNotAcked:
				notAcked++
				if len(o.CookieAfter) > 0 && !bytes.Equal(o.CookieAfter, o.CookieSent) {
					changed++
				}
			}
		}
		switch {
		case dropped > notAcked && (dropped >= 2 || dropped == len(data) || ev.SYNDrops >= 2):
			return SYNDataDropped
		case notAcked > 0 && changed*2 >= notAcked:
			return CookieChanges
		case notAcked > 0:
			return DataNotAcked
		}
		return Inconclusive
	}
	gotCookie := false
	for _, o := range ev.Conns {
		if len(o.CookieAfter) > 0 {
			gotCookie = true
		}
	}
	if gotCookie {
		return Inconclusive // a cookie came, but no connection used it
	}
	lost, plainLost := 0, 0
	var slow, fast int
	var plainRTT time.Duration
	for _, o := range plain {
		if o.SYNRetransmitted {
			plainLost++
		} else if plainRTT == 0 || o.HandshakeRTT < plainRTT {
			plainRTT = o.HandshakeRTT
		}
	}
	for _, o := range requests {
		if !o.SYNRetransmitted {
			continue
		}
		lost++
		if o.HandshakeRTT > 0 && plainRTT > 0 {
			if o.HandshakeRTT > plainRTT+slowHandshake {
				slow++
			} else {
				fast++
			}
		}
	}
	if lost >= 2 && lost*2 > len(requests) && plainLost*2 < len(plain) {
		if c := ev.Capture; c != nil && c.CookieRequestAnswered != nil {
			if *c.CookieRequestAnswered {
				return SYNACKCookieDropped
			}
			return SYNOptionDropped
		}
		switch {
		case slow > 0 && fast == 0:
			return SYNACKCookieDropped
		case fast > 0 && slow == 0:
			return SYNOptionDropped
		}
		return CookieRequestLost
	}
	if ev.Capture != nil && ev.Capture.OptionBlanked {
		return OptionStripped
	}
	if len(requests) > 0 {
		return NoCookie
	}
	return Inconclusive
}

// Overall combines the verdicts of several addresses of one name: Works
// when every address works; else the verdict of the first address in the
// most pressing category (local, then path, then server, then
// unreachable), because a client may be sent to any of them.
func Overall(vs []Verdict) Verdict {
	if len(vs) == 0 {
		return Unreachable
	}
	for _, cat := range []Category{CategoryLocal, CategoryPath, CategoryServer, CategoryUnreachable} {
		for _, v := range vs {
			if v.Category() == cat {
				return v
			}
		}
	}
	return Works
}

// String returns the verdict's code.
func (v Verdict) String() string { return string(v) }

// pathCauses is the one mapping between verdicts and the causes a
// Dialer's path memory records (fastopen.PathEntry.Cause): what a Dialer
// records when its connections meet what the verdict describes. A
// verdict absent from it says nothing the path memory keeps (a missing
// cookie costs a Dialer nothing; a local or unreachable verdict is not
// about the path).
var pathCauses = map[Verdict]fastopen.Reason{
	Works:          fastopen.ReasonNone,
	CookieChanges:  fastopen.ReasonDataNotAcked,
	DataNotAcked:   fastopen.ReasonDataNotAcked,
	SYNDataDropped: fastopen.ReasonSYNRetransmitted,
	// A SYN with data that gets no answer at all: a racing Dialer counts
	// it as lost SYN data when the plain connection wins.
	TFOBlackholed:       fastopen.ReasonSYNRetransmitted,
	SYNOptionDropped:    fastopen.ReasonCookieRequestLost,
	SYNACKCookieDropped: fastopen.ReasonCookieRequestLost,
	CookieRequestLost:   fastopen.ReasonCookieRequestLost,
}

// noPathCause lists the verdicts that on purpose have no path memory
// cause (see pathCauses), so that a new verdict must be placed in one
// list or the other.
var noPathCause = []Verdict{NoCookie, OptionStripped, BlackholePause, ClientOff, Unreachable, Inconclusive}

// causeVerdicts maps each failure cause of the path memory to the verdict
// whose words describe it.
var causeVerdicts = map[fastopen.Reason]Verdict{
	fastopen.ReasonSYNRetransmitted:  SYNDataDropped,
	fastopen.ReasonCookieRequestLost: CookieRequestLost,
	fastopen.ReasonDataNotAcked:      DataNotAcked,
}

// PathCause returns what a Dialer's path memory records for a path with
// verdict v: ReasonNone for Works (a success, which clears earlier
// failures), else the failure cause (a fastopen.PathEntry's Cause:
// ReasonSYNRetransmitted, ReasonCookieRequestLost, ReasonDataNotAcked).
// ok is false when the path memory keeps nothing for v (NoCookie,
// OptionStripped, local and unreachable verdicts). It is the inverse of
// CauseVerdict: CauseVerdict(c).PathCause() is c.
func (v Verdict) PathCause() (cause fastopen.Reason, ok bool) {
	cause, ok = pathCauses[v]
	return cause, ok
}

// CauseVerdict returns the verdict that describes a failure cause of the
// path memory (a fastopen.PathEntry's Cause), so that what the memory
// says reads in the probe's words; ok is false for a reason the memory
// does not record as a failure.
func CauseVerdict(cause fastopen.Reason) (v Verdict, ok bool) {
	v, ok = causeVerdicts[cause]
	return v, ok
}
