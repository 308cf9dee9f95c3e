package trace

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Direction says which way a segment travels within its connection.
type Direction int

// Directions. The client is the side that sent the first SYN.
const (
	// Unknown means the connection's SYN was not seen (the capture started
	// in the middle of it), so client and server are not known.
	Unknown Direction = iota
	// ToServer is a segment from the client to the server.
	ToServer
	// ToClient is a segment from the server to the client.
	ToClient
)

// String renders the direction as an arrow between roles ("client →
// server"), or "?" for Unknown.
func (d Direction) String() string {
	switch d {
	case ToServer:
		return "client → server"
	case ToClient:
		return "server → client"
	}
	return "?"
}

// MarshalText renders the direction for JSON: "to_server", "to_client" or
// "unknown".
func (d Direction) MarshalText() ([]byte, error) {
	switch d {
	case ToServer:
		return []byte("to_server"), nil
	case ToClient:
		return []byte("to_client"), nil
	}
	return []byte("unknown"), nil
}

// Event is a decoded segment placed in its connection and annotated in
// plain words.
type Event struct {
	// Time is the capture timestamp.
	Time time.Time `json:"time"`
	// Flow is the connection's number (1, 2, ... in order of first SYN), 0
	// when the segment belongs to a connection whose SYN was not seen.
	Flow int `json:"flow"`
	// Dir is the segment's direction within the connection.
	Dir Direction `json:"dir"`
	// Since is the time since the connection's first SYN; zero when Flow
	// is 0.
	Since time.Duration `json:"since_syn_ns"`
	// Note explains the segment, e.g. "SYN-ACK acks the SYN data (TFO
	// accepted)".
	Note string `json:"note"`
	// Err is set, and Packet empty, for a frame that did not decode.
	Err string `json:"error,omitempty"`
	Packet
}

// String renders the event as one line: endpoints and the note (which
// names the flags).
func (e Event) String() string {
	return fmt.Sprintf("%s → %s  %s", e.Src, e.Dst, e.Note)
}

// Outcome is what became of TCP Fast Open on one connection.
type Outcome string

// Outcomes, from the client's point of view.
const (
	// Incomplete: the handshake was not seen to finish (no SYN-ACK).
	Incomplete Outcome = "incomplete"
	// NoTFO: an ordinary handshake, the client did not try TFO.
	NoTFO Outcome = "no-tfo"
	// CookieGranted: the client asked for a cookie and got one (a cold
	// start: this connection still waited a round trip, the next can send
	// data in its SYN).
	CookieGranted Outcome = "cookie-granted"
	// NoCookie: the client asked for a cookie and the server gave none (TFO
	// is off on the server or stripped on the path).
	NoCookie Outcome = "no-cookie"
	// CookieNoData: the client presented a cookie but put no data in the
	// SYN, so nothing was gained.
	CookieNoData Outcome = "cookie-no-data"
	// Accepted: data rode in the SYN and the SYN-ACK acknowledged it.
	Accepted Outcome = "accepted"
	// Refused: data rode in the SYN but the SYN-ACK acknowledged only the
	// SYN; the client had to send the data again after the handshake.
	Refused Outcome = "refused"
)

// Describe explains the outcome in a sentence.
func (o Outcome) Describe() string {
	switch o {
	case Incomplete:
		return "handshake not seen to complete"
	case NoTFO:
		return "plain handshake, no TFO attempted"
	case CookieGranted:
		return "cookie requested and granted (cold start; the next connection can send data in its SYN)"
	case NoCookie:
		return "cookie requested, none granted (server has TFO off or the option was stripped)"
	case CookieNoData:
		return "cookie presented but no data in the SYN"
	case Accepted:
		return "TFO accepted: the SYN's data was acknowledged by the SYN-ACK"
	case Refused:
		return "TFO refused: the SYN-ACK acknowledged only the SYN, the data was sent again"
	}
	return string(o)
}

// Flow summarizes one TCP connection seen from its first SYN.
type Flow struct {
	// ID numbers connections in the order their first SYN was seen.
	ID int `json:"id"`
	// Client sent the SYN; Server answered it.
	Client netip.AddrPort `json:"client"`
	Server netip.AddrPort `json:"server"`
	// Start is the time of the first SYN.
	Start time.Time `json:"start"`
	// Outcome is what became of TFO.
	Outcome Outcome `json:"outcome"`
	// CookieRequested reports whether the SYN asked for a cookie.
	CookieRequested bool `json:"cookie_requested"`
	// CookieSent is the cookie the client presented in its SYN.
	CookieSent Cookie `json:"cookie_sent,omitempty"`
	// CookieGranted is the cookie the server put in its SYN-ACK.
	CookieGranted Cookie `json:"cookie_granted,omitempty"`
	// SYNData is the number of data bytes the SYN carried.
	SYNData int `json:"syn_data"`
	// SYNDataAcked is how many of them the SYN-ACK acknowledged.
	SYNDataAcked int `json:"syn_data_acked"`
	// SYNRetransmits counts repeated SYNs.
	SYNRetransmits int `json:"syn_retransmits"`
	// Handshake is the time from the SYN to the SYN-ACK at the capture
	// point (a full round trip when capturing at the client).
	Handshake time.Duration `json:"handshake_ns"`
	// RTT is the round-trip time used to express delays in RTTs: the one
	// given to the Tracker, or else estimated from the handshake as the
	// time from the SYN to the client's acknowledgment of the SYN-ACK,
	// which is one round trip wherever the capture point is.
	RTT time.Duration `json:"rtt_ns"`
	// RTTEstimated reports whether RTT was estimated from the handshake
	// rather than given.
	RTTEstimated bool `json:"rtt_estimated"`
	// FirstServerData is the time from the first SYN to the server's first
	// data byte; zero if the server sent none.
	FirstServerData time.Duration `json:"first_server_data_ns"`
	// FirstServerDataRTTs is FirstServerData in round trips (0 when RTT is
	// unknown or the server sent nothing).
	FirstServerDataRTTs float64 `json:"first_server_data_rtts"`
	// ClientBytes and ServerBytes count payload bytes seen each way
	// (retransmissions included).
	ClientBytes int `json:"client_bytes"`
	ServerBytes int `json:"server_bytes"`
	// Packets counts the segments seen.
	Packets int `json:"packets"`
	// Closed reports whether a FIN or RST was seen.
	Closed bool `json:"closed"`
}

// String renders the summary in one line.
func (f Flow) String() string {
	s := fmt.Sprintf("connection %d %s → %s: %s; %s in the SYN", f.ID, f.Client, f.Server, f.Outcome.Describe(), bytesWord(f.SYNData))
	if f.FirstServerData > 0 {
		s += fmt.Sprintf("; first server byte %s after the SYN", round(f.FirstServerData))
		if f.FirstServerDataRTTs > 0 {
			s += fmt.Sprintf(" (%.1f RTT)", f.FirstServerDataRTTs)
		}
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

type flowKey struct{ a, b netip.AddrPort }

type flowState struct {
	Flow
	isn, serverISN  uint32
	haveSYNACK      bool
	lastSYN         time.Time
	clientAckedTime time.Time
	clientAcked     bool
}

// DefaultMaxFlows is how many connections a Tracker keeps when its
// MaxFlows is zero: enough for any test or demo, and about 6 MB of heap
// for a capture left running for days (BenchmarkTrackerManyConnections).
const DefaultMaxFlows = 10000

// Tracker follows TCP connections through their segments and annotates
// each segment with what it means for TCP Fast Open. It is not safe for
// concurrent use.
type Tracker struct {
	// MaxFlows is the most connections kept (DefaultMaxFlows if zero):
	// when one more starts, the oldest is forgotten, so that its later
	// segments are shown without a connection, Flows no longer lists it
	// and Forgotten counts it.
	MaxFlows int

	rtt       time.Duration
	flows     map[flowKey]*flowState
	order     []*flowState
	next      int
	forgotten int
}

// NewTracker returns a Tracker. rtt, when positive, is the known round-trip
// time used to express delays in RTTs; zero means estimate it per
// connection from the handshake.
func NewTracker(rtt time.Duration) *Tracker {
	return &Tracker{rtt: rtt, flows: map[flowKey]*flowState{}}
}

// Add places a decoded segment captured at ts in its connection and
// returns the annotated event. A SYN without ACK starts a new connection
// (also on a reused 4-tuple); a segment of a connection whose SYN was not
// seen gets Flow 0 and Dir Unknown.
func (t *Tracker) Add(ts time.Time, p Packet) Event {
	ev := Event{Time: ts, Packet: p}
	fs, dir := t.lookup(p)
	if p.Flags.Has(SYN) && !p.Flags.Has(ACK) && (fs == nil || dir != ToServer || p.Seq != fs.isn) {
		fs, dir = t.newFlow(ts, p), ToServer // a new connection (possibly reusing the 4-tuple)
	}
	if fs == nil {
		ev.Note = p.String()
		return ev
	}
	ev.Flow, ev.Dir, ev.Since = fs.ID, dir, ts.Sub(fs.Start)
	fs.Packets++
	if p.Flags.Has(FIN) || p.Flags.Has(RST) {
		fs.Closed = true
	}
	switch dir {
	case ToServer:
		fs.ClientBytes += p.PayloadLen
		ev.Note = t.clientSegment(fs, ts, p)
	case ToClient:
		fs.ServerBytes += p.PayloadLen
		ev.Note = t.serverSegment(fs, ts, p)
	}
	return ev
}

func (t *Tracker) lookup(p Packet) (*flowState, Direction) {
	if fs, ok := t.flows[flowKey{p.Src, p.Dst}]; ok {
		return fs, ToServer
	}
	if fs, ok := t.flows[flowKey{p.Dst, p.Src}]; ok {
		return fs, ToClient
	}
	return nil, Unknown
}

func (t *Tracker) newFlow(ts time.Time, p Packet) *flowState {
	t.next++
	fs := &flowState{Flow: Flow{
		ID: t.next, Client: p.Src, Server: p.Dst, Start: ts, Outcome: Incomplete,
	}, isn: p.Seq}
	delete(t.flows, flowKey{p.Dst, p.Src})
	t.flows[flowKey{p.Src, p.Dst}] = fs
	t.order = append(t.order, fs)
	limit := t.MaxFlows
	if limit <= 0 {
		limit = DefaultMaxFlows
	}
	for len(t.order) > limit {
		old := t.order[0]
		t.order[0] = nil
		t.order = t.order[1:]
		if k := (flowKey{old.Client, old.Server}); t.flows[k] == old {
			delete(t.flows, k)
		}
		t.forgotten++
	}
	return fs
}

// Forgotten is the number of connections dropped to stay within MaxFlows.
func (t *Tracker) Forgotten() int { return t.forgotten }

func (t *Tracker) clientSegment(fs *flowState, ts time.Time, p Packet) string {
	note := p.String()
	switch {
	case p.Flags.Has(SYN):
		if fs.Packets > 1 {
			fs.SYNRetransmits++
			note += " (retransmission)"
		} else {
			fs.SYNData = p.PayloadLen
			if o := p.FastOpen; o != nil {
				fs.CookieRequested = o.Request()
				fs.CookieSent = o.Cookie
			}
		}
		fs.lastSYN = ts
		return note
	}
	var why []string
	if p.PayloadLen > 0 && fs.Outcome == Refused && p.Seq == fs.isn+1 {
		why = append(why, "the refused SYN data, sent again")
	}
	if fs.haveSYNACK && !fs.clientAcked && p.Flags.Has(ACK) && p.Ack == fs.serverISN+1 {
		fs.clientAcked, fs.clientAckedTime = true, ts
		if p.PayloadLen == 0 && !p.Flags.Has(FIN) && !p.Flags.Has(RST) {
			return "ACK (handshake complete)"
		}
		why = append(why, "completes the handshake")
	}
	if len(why) > 0 {
		note += " (" + strings.Join(why, "; ") + ")"
	}
	return note
}

func (t *Tracker) serverSegment(fs *flowState, ts time.Time, p Packet) string {
	if p.Flags.Has(SYN | ACK) {
		return t.synAck(fs, ts, p)
	}
	note := p.String()
	if p.PayloadLen > 0 && fs.FirstServerData == 0 {
		fs.FirstServerData = ts.Sub(fs.Start)
		note += " — first data from the server, " + round(fs.FirstServerData).String() + " after the SYN"
		if rtt := t.flowRTT(fs); rtt > 0 {
			note += fmt.Sprintf(" (%.1f RTT)", float64(fs.FirstServerData)/float64(rtt))
		}
	}
	return note
}

func (t *Tracker) synAck(fs *flowState, ts time.Time, p Packet) string {
	if fs.haveSYNACK {
		return p.String() + " (retransmission)"
	}
	fs.haveSYNACK, fs.serverISN = true, p.Seq
	fs.Handshake = ts.Sub(fs.lastSYN)
	if o := p.FastOpen; o != nil && !o.Request() {
		fs.CookieGranted = o.Cookie
	}
	acked := int(int32(p.Ack - (fs.isn + 1)))
	if acked < 0 {
		acked = 0
	}
	fs.SYNDataAcked = acked
	var note string
	switch {
	case fs.SYNData > 0 && acked >= fs.SYNData:
		fs.Outcome = Accepted
		note = "SYN-ACK acks the SYN data (TFO accepted)"
	case fs.SYNData > 0 && acked > 0:
		fs.Outcome = Accepted
		note = fmt.Sprintf("SYN-ACK acks %d of the %s of SYN data (TFO partly accepted)", acked, bytesWord(fs.SYNData))
	case fs.SYNData > 0:
		fs.Outcome = Refused
		note = "SYN-ACK acks only the SYN (data will be retransmitted — TFO refused)"
	case fs.CookieRequested && fs.CookieGranted != nil:
		fs.Outcome = CookieGranted
		return "SYN-ACK + cookie " + fs.CookieGranted.String()
	case fs.CookieRequested:
		fs.Outcome = NoCookie
		return "SYN-ACK without a cookie (the server does not offer TFO)"
	case fs.CookieSent != nil:
		fs.Outcome = CookieNoData
		return p.String()
	default:
		fs.Outcome = NoTFO
		return p.String()
	}
	if fs.CookieGranted != nil {
		note += "; new cookie " + fs.CookieGranted.String()
	}
	return note
}

func (t *Tracker) flowRTT(fs *flowState) time.Duration {
	switch {
	case t.rtt > 0:
		return t.rtt
	case fs.clientAcked:
		return fs.clientAckedTime.Sub(fs.lastSYN)
	case fs.haveSYNACK:
		return fs.Handshake
	}
	return 0
}

// Flows returns the summaries of the connections seen so far (the latest
// MaxFlows of them), in order of their first SYN.
func (t *Tracker) Flows() []Flow {
	out := make([]Flow, 0, len(t.order))
	for _, fs := range t.order {
		f := fs.Flow
		f.RTT = t.flowRTT(fs)
		f.RTTEstimated = t.rtt <= 0 && f.RTT > 0
		if f.RTT > 0 && f.FirstServerData > 0 {
			f.FirstServerDataRTTs = float64(f.FirstServerData) / float64(f.RTT)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
