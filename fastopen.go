// Package fastopen makes TCP Fast Open (TFO, RFC 7413) usable from Go and
// tells, per connection, whether it really happened.
//
// With TFO a client puts its first bytes into the SYN, so a short request
// and its response take one round trip instead of two. The server hands out
// a cookie on first contact; later connections carry the cookie and the
// data in the SYN.
//
// A Dialer is shaped like net.Dialer. Its DialContext returns at once and
// the first Write rides in the SYN (Linux TCP_FASTOPEN_CONNECT), so it
// drops into http.Transport.DialContext unchanged. DialData sends given
// bytes in the SYN and returns once the connection is established, so
// refused and unreachable errors surface at dial time.
//
// A ListenConfig is shaped like net.ListenConfig and returns an ordinary
// net.Listener with TFO enabled (TCP_FASTOPEN) and, optionally, a cookie
// key shared by a fleet of servers.
//
// A Dialer remembers per destination where TFO failed (a lost SYN with
// data, a lost cookie request) and dials plain TCP there for a growing
// backoff before trying TFO again (PathMemory), so that a path which
// punishes TFO costs no more than plain TCP after its first failure.
//
// InfoOf reports what the kernel knows about a connection: whether data
// went into the SYN, whether the peer accepted it, and if not, why.
// Handshake lets a server act on SYN data only once the client has
// completed the handshake (a guard against replayed SYNs).
//
// Dialers, listeners and connections are safe for concurrent use, like
// their counterparts in package net. Errors from dialing and listening
// are *net.OpError values as in package net; with Require set, a missing
// TFO is an *Error that matches ErrNotUsed.
//
// TFO is implemented on Linux. Elsewhere dials and listens fall back to
// plain TCP and Info says so; with Require set they fail with an error
// matching errors.ErrUnsupported.
package fastopen

import (
	"errors"
	"fmt"
	"time"
)

// DefaultQueueLen is the pending-TFO queue length a ListenConfig uses when
// QueueLen is zero: how many connections whose SYN carried data may wait
// for the end of their handshake at once. Beyond it, SYN data is ignored (plain TCP) — a bound
// on what a SYN flood with valid cookies can make the server do.
const DefaultQueueLen = 256

// DefaultFirstWriteWait is how long a Read on a lazy connection that has
// not yet written waits for the first Write before it starts the handshake
// without data, when Dialer.FirstWriteWait is zero.
const DefaultFirstWriteWait = 10 * time.Millisecond

// ErrNotUsed is matched (errors.Is) by the *Error that a dial or listen
// returns when Dialer.Require or ListenConfig.Require is set and TCP Fast
// Open could not be used; the *Error's Reason says why.
var ErrNotUsed = errors.New("TCP Fast Open not used")

// ErrNotTCP is matched (errors.Is) by the error for a connection or
// listener that is not TCP: one given to InfoOf or Handshake, or one that
// a customised net.Dialer or net.ListenConfig returned.
var ErrNotTCP = errors.New("fastopen: not a TCP connection")

// Error reports that TCP Fast Open was required (Dialer.Require,
// ListenConfig.Require) but could not be used. It wraps ErrNotUsed, or
// errors.ErrUnsupported on platforms without TFO. A dial or listen
// returns it inside a *net.OpError (use errors.As).
type Error struct {
	// Op is "dial" or "listen".
	Op string
	// Net is the network ("tcp", "tcp4", "tcp6").
	Net string
	// Addr is the address dialed or listened on.
	Addr string
	// Reason says why TFO could not be used.
	Reason Reason
	// Err is ErrNotUsed or errors.ErrUnsupported.
	Err error
}

// Error says why TFO was not used. It reaches the caller inside a
// *net.OpError that already names the network and address, so they are
// not repeated.
func (e *Error) Error() string {
	return fmt.Sprintf("fastopen: %v: %s", e.Err, e.Reason)
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Side says which end of a connection an Info describes. The zero value
// is SideUnknown.
type Side uint8

// Sides of a connection.
const (
	// SideUnknown: a connection neither dialed by a Dialer nor accepted
	// from a Listener of this package.
	SideUnknown Side = iota
	// SideClient: dialed by a Dialer.
	SideClient
	// SideServer: accepted from a Listener.
	SideServer
)

// String returns "client", "server" or "unknown".
func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideServer:
		return "server"
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (s Side) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for the words String
// returns; any other text is an error.
func (s *Side) UnmarshalText(b []byte) error {
	for _, v := range []Side{SideUnknown, SideClient, SideServer} {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("fastopen: unknown side %q: want client, server or unknown", b)
}

// Info is what is known about TCP Fast Open on one connection, as
// returned by InfoOf. It is a snapshot: take it again after the handshake
// or the first reply to see the outcome. The JSON form names fields in
// snake case and gives durations in nanoseconds.
type Info struct {
	// Side is the end of the connection this describes.
	Side Side `json:"side"`
	// Requested: TFO was asked for (client: not disabled and the kernel
	// accepted TCP_FASTOPEN_CONNECT; server: the listener has TCP_FASTOPEN).
	Requested bool `json:"requested"`
	// HadCookie (client): a cookie for the server was cached when dialing,
	// so the SYN could carry data.
	HadCookie bool `json:"had_cookie"`
	// SentInSYN (client): the SYN carried data.
	SentInSYN bool `json:"sent_in_syn"`
	// FirstWriteBytes (client): the length of the Write that sent a lazy
	// connection's SYN (its first Write, or one racing it); 0 when no
	// Write sent the SYN (no cookie at dial, a Read started the
	// handshake, plain TCP).
	FirstWriteBytes int `json:"first_write_bytes,omitempty"`
	// SYNSentBytes (client): how many bytes of that Write rode in the
	// SYN, as the kernel reported them (the return value of the sendmsg
	// that sent the SYN: at most about one MSS less 40 bytes of option
	// space, 1420 B on a 1500-byte MTU). Whether the server accepted them
	// is SYNData.
	SYNSentBytes int `json:"syn_sent_bytes,omitempty"`
	// FirstWriteFit (client): the whole first Write rode in the SYN and
	// the server acknowledged it (SYNData, and SYNSentBytes equals
	// FirstWriteBytes). When the SYN carried only part of it, SYNData is
	// still true but Reason is ReasonTooBigForSYN: a server that needs
	// the whole first flight before answering (a TLS ClientHello) answers
	// no earlier than without TFO.
	FirstWriteFit bool `json:"first_write_fit"`
	// SYNData is the kernel's TCPI_OPT_SYN_DATA. Client: the server
	// acknowledged the data in the SYN. Server: the connection's first
	// bytes arrived in the SYN and were accepted.
	SYNData bool `json:"syn_data"`
	// SYNBytes (server): how many payload bytes arrived in the SYN, when
	// it could be measured exactly at accept time; otherwise 0.
	SYNBytes int `json:"syn_bytes,omitempty"`
	// Reason says why SYNData is false, or, when it is true on a client
	// whose SYN carried only part of the first Write, ReasonTooBigForSYN;
	// ReasonNone when TFO fully happened.
	Reason Reason `json:"reason"`
	// State is the TCP state ("ESTABLISHED", "SYN_SENT", ...), as the
	// kernel's TCP_INFO reports it.
	State string `json:"state"`
	// RTT is the kernel's smoothed round-trip time estimate (tcpi_rtt,
	// microsecond resolution); RTTVar its variation. Zero before the
	// kernel has measured a round trip. JSON: nanoseconds.
	RTT    time.Duration `json:"rtt_ns"`
	RTTVar time.Duration `json:"rttvar_ns"`
	// PathUntil and PathCause (client), with ReasonPathMemory: TFO is
	// avoided for the server until PathUntil because of the failure
	// PathCause. PathProbe: the dial tried TFO again after such a
	// backoff. See PathMemory.
	PathUntil time.Time `json:"path_until,omitzero"`
	PathCause Reason    `json:"path_cause,omitempty"`
	PathProbe bool      `json:"path_probe,omitempty"`
}

// Reason says why TCP Fast Open did not happen on a connection. The zero
// value is ReasonNone. String explains it in words; Code is a stable
// identifier for logs and JSON.
type Reason uint8

// Reasons. The client ones from the kernel come from
// tcpi_fastopen_client_fail (Linux 5.5+).
const (
	// ReasonNone: TFO happened (or nothing went wrong yet).
	ReasonNone Reason = iota
	// ReasonPending: the handshake has not finished (or, on a lazy
	// connection, not started: nothing was written yet).
	ReasonPending
	// ReasonDisabled: TFO was turned off by the caller (Dialer.Disable,
	// ListenConfig.Disable).
	ReasonDisabled
	// ReasonUnsupported: this platform has no TFO support in this package.
	ReasonUnsupported
	// ReasonKernelOff: the kernel's net.ipv4.tcp_fastopen lacks the bit for
	// this side (0x1 client, 0x2 server).
	ReasonKernelOff
	// ReasonNoCookie: no cookie was cached for the server, so the SYN only
	// asked for one (first contact). If it persists, the server does not
	// offer TFO or a middlebox strips the option.
	ReasonNoCookie
	// ReasonDataNotAcked: the SYN carried data but the server's SYN-ACK did
	// not acknowledge it (server TFO off, cookie rejected, queue full); the
	// kernel sent the data again after the handshake, nothing is lost.
	ReasonDataNotAcked
	// ReasonSYNRetransmitted: the SYN with data got no answer and was
	// retransmitted without data (a middlebox dropping SYNs with data?).
	ReasonSYNRetransmitted
	// ReasonNoData: the handshake started with nothing to send (a Read
	// before any Write, or an empty first write).
	ReasonNoData
	// ReasonNotInSYN (server): the connection's first bytes did not arrive
	// in the SYN (the client sent none, had no valid cookie, or TFO queue
	// was full).
	ReasonNotInSYN
	// ReasonUnknown: the kernel did not use TFO and did not say why. On
	// Linux 5.5+ a client gets it when active TFO is paused after the
	// kernel suspected a middlebox blackhole (TcpExt.TCPFastOpenBlackhole,
	// net.ipv4.tcp_fastopen_blackhole_timeout_sec; see `fastopen check`):
	// the SYN then carries neither data nor a cookie request.
	ReasonUnknown
	// ReasonTooBigForSYN (client): the SYN carried data and the server
	// accepted it (SYNData is true), but only part of the first Write
	// (SYNSentBytes of FirstWriteBytes); the rest followed after the
	// handshake. A server that needs the whole first flight before it can
	// answer — a TLS ClientHello larger than the SYN's room, such as Go's
	// default with a post-quantum key share (~1.5 KB) — answers one round
	// trip later, as without TFO.
	ReasonTooBigForSYN
	// ReasonPathMemory (client): the dial left TFO out because earlier
	// connections to this server failed with it (see PathMemory);
	// Info.PathUntil says until when, Info.PathCause which failure.
	ReasonPathMemory
	// ReasonCookieRequestLost (client): the SYN asking for a cookie, or
	// the SYN-ACK bringing it, was lost, and the SYN was retransmitted
	// without the request: the connection waited for the SYN
	// retransmission timeout (a middlebox dropping TFO options?).
	ReasonCookieRequestLost
)

var reasonText = [...]struct{ code, text string }{
	ReasonNone:              {"", "TFO used"},
	ReasonPending:           {"pending", "handshake not finished (nothing written yet, or SYN in flight)"},
	ReasonDisabled:          {"disabled", "TFO disabled by the caller"},
	ReasonUnsupported:       {"unsupported", "TFO is not supported on this platform"},
	ReasonKernelOff:         {"kernel_off", "TFO is off in the kernel for this side (net.ipv4.tcp_fastopen: set bit 0x1 for clients, 0x2 for servers, e.g. sysctl -w net.ipv4.tcp_fastopen=3 or `fastopen enable`)"},
	ReasonNoCookie:          {"no_cookie", "no TFO cookie for this server yet: the SYN asked for one (first contact; if it persists the server does not offer TFO)"},
	ReasonDataNotAcked:      {"data_not_acked", "the server did not accept the data in the SYN; it was sent again after the handshake"},
	ReasonSYNRetransmitted:  {"syn_retransmitted", "the SYN with data was lost and sent again without data"},
	ReasonNoData:            {"no_data", "the handshake started with no data to send (read before write)"},
	ReasonNotInSYN:          {"not_in_syn", "the first bytes did not arrive in the SYN"},
	ReasonUnknown:           {"unknown", "the kernel did not use TFO and did not say why (client TFO may be paused after a suspected middlebox blackhole: see `fastopen check`)"},
	ReasonTooBigForSYN:      {"too_big_for_syn", "data in the SYN but only part of the first flight: the rest followed after the handshake, so the server could not answer earlier (send a first write that fits, about 1420 B on a 1500-byte MTU)"},
	ReasonPathMemory:        {"path_memory", "TFO left out: earlier connections to this server failed with it (see `fastopen cookies`); it is tried again after a backoff"},
	ReasonCookieRequestLost: {"cookie_request_lost", "the SYN asking for a TFO cookie (or the SYN-ACK bringing it) was lost and the SYN sent again without the request, after the retransmission timeout"},
}

// String explains the reason in words, with what to do where a user can
// act (e.g. the sysctl to set for ReasonKernelOff).
func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r].text
	}
	return fmt.Sprintf("reason(%d)", r)
}

// Code is a short stable identifier ("no_cookie", "data_not_acked", ...),
// empty for ReasonNone.
func (r Reason) Code() string {
	if int(r) < len(reasonText) {
		return reasonText[r].code
	}
	return fmt.Sprintf("reason_%d", r)
}

// MarshalText implements encoding.TextMarshaler with Code.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.Code()), nil }

// UnmarshalText implements encoding.TextUnmarshaler for Code values (the
// empty text is ReasonNone); any other text is an error.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, t := range reasonText {
		if t.code == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("fastopen: unknown reason code %q (want one of Reason.Code's values, such as no_cookie)", b)
}
