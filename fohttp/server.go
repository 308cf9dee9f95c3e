package fohttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fastopen/fastopen"
)

// EarlyPolicy says what a Guard does with an unsafe request (not GET,
// HEAD, OPTIONS or TRACE) that arrived in SYN data before the client
// completed the TCP handshake: such a request may be a replayed SYN. The
// zero value is EarlyWait.
type EarlyPolicy uint8

// Policies.
const (
	// EarlyWait waits for the client to complete the handshake, then
	// serves the request (about one extra half round trip). A replayed
	// SYN never completes it: its request is dropped unanswered and the
	// handler never runs.
	EarlyWait EarlyPolicy = iota
	// EarlyReject answers 425 Too Early (RFC 8470) at once; a client that
	// knows the code (this package's Transport) sends the request again
	// without TFO.
	EarlyReject
)

// String returns "wait" or "reject".
func (p EarlyPolicy) String() string {
	switch p {
	case EarlyWait:
		return "wait"
	case EarlyReject:
		return "reject"
	}
	return fmt.Sprintf("EarlyPolicy(%d)", uint8(p))
}

// ParseEarlyPolicy parses "wait" or "reject".
func ParseEarlyPolicy(s string) (EarlyPolicy, error) {
	switch s {
	case "wait":
		return EarlyWait, nil
	case "reject":
		return EarlyReject, nil
	}
	return 0, fmt.Errorf("early-data policy %q: want wait (hold unsafe requests from a SYN until the handshake completes) or reject (answer 425 Too Early)", s)
}

// DefaultHandshakeTimeout bounds EarlyWait's wait for the handshake when
// Guard.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 3 * time.Second

// Request is what a Guard learned about a request; handlers read it with
// RequestOf.
type Request struct {
	// Info is the connection's TCP Fast Open info, taken when it was
	// accepted (ConnContext).
	Info fastopen.Info
	// TLS: the connection is TLS. Its SYN can carry only the ClientHello;
	// a request comes after the TLS handshake, so never from the SYN.
	TLS bool
	// InSYN: the request's first bytes arrived in the SYN: the first
	// request on a plain connection whose SYN carried data.
	InSYN bool
	// EarlyData: the request carries "Early-Data: 1" (RFC 8470): a proxy
	// forwarded it before its own client completed a handshake.
	EarlyData bool
	// Handshake: the client had completed the TCP handshake when the
	// handler was called (after the wait, with EarlyWait).
	Handshake bool
	// Waited is how long the request waited for the handshake (EarlyWait).
	Waited time.Duration
}

type requestKey struct{}

// RequestOf returns what the Guard learned about the request whose
// context is ctx; false outside a Guard.
func RequestOf(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}

// connState is what ConnContext keeps per connection.
type connState struct {
	conn     net.Conn // as accepted: a *fastopen.ServerConn, or a *tls.Conn over one
	info     fastopen.Info
	infoErr  error
	tls      bool
	requests atomic.Int64
	// handshake: the client was seen to have completed the handshake;
	// it stays so, and later requests need not ask the kernel again.
	handshake atomic.Bool
}

type connKey struct{}

// ConnContext is an http.Server.ConnContext: it records the connection
// and its TFO info (one getsockopt) for the Guard. A connection whose
// info cannot be read (not TCP, such as a Unix socket) had no SYN and is
// treated as not from one. To chain with another ConnContext, call it
// from yours with that one's context.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	cs := &connState{conn: c}
	_, cs.tls = c.(*tls.Conn)
	cs.info, cs.infoErr = fastopen.InfoOf(c)
	return context.WithValue(ctx, connKey{}, cs)
}

// NewServer returns an *http.Server whose Handler is a Guard around h
// with policy p and whose ConnContext is ConnContext. Set its other
// fields (timeouts, ErrorLog, TLSConfig) before serving.
func NewServer(h http.Handler, p EarlyPolicy) *http.Server {
	return &http.Server{Handler: &Guard{Handler: h, Early: p}, ConnContext: ConnContext}
}

// ErrNoConnContext is what a Guard answers (500) when the server's
// ConnContext is not ConnContext: it cannot tell a request from a SYN.
var ErrNoConnContext = errors.New("fohttp: Guard needs http.Server.ConnContext = fohttp.ConnContext (or fohttp.NewServer)")

// Guard is an http.Handler that serves requests from a fastopen listener
// replay-safely without losing TFO's saving where it is safe: it answers
// safe methods (RFC 9110: GET, HEAD, OPTIONS, TRACE) at once, and applies
// Early to unsafe ones that arrived in SYN data before the handshake
// completed. An unsafe request marked "Early-Data: 1" by a proxy is
// answered 425 Too Early, whatever Early says: the handshake it would
// wait for is the proxy's client's. Every request's context carries a
// Request (RequestOf). The server must use ConnContext.
type Guard struct {
	// Handler serves the requests.
	Handler http.Handler
	// Early is the policy for unsafe requests from a SYN.
	Early EarlyPolicy
	// HandshakeTimeout bounds EarlyWait's wait; zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Held, if set, is called for each unsafe request the Guard did not
	// pass on at once, after it dealt with it: err is nil when it served
	// it after the handshake (EarlyWait), ErrTooEarly when it answered
	// 425, or why the handshake did not complete (a replayed SYN, or a
	// client gone): the request was dropped unanswered, the handler did
	// not run and the connection is closed.
	Held func(r *http.Request, err error)
}

// ErrTooEarly is what Guard.Held receives for a request answered 425 Too
// Early.
var ErrTooEarly = errors.New("fohttp: answered 425 Too Early")

// Safe reports whether r's method is safe (RFC 9110 section 9.2.1).
func Safe(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// ServeHTTP applies the policy and calls g.Handler.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cs, ok := r.Context().Value(connKey{}).(*connState)
	if !ok {
		http.Error(w, ErrNoConnContext.Error(), http.StatusInternalServerError)
		return
	}
	first := cs.requests.Add(1) == 1
	req := Request{
		Info:      cs.info,
		TLS:       cs.tls,
		InSYN:     first && !cs.tls && cs.info.SYNData,
		EarlyData: strings.TrimSpace(r.Header.Get("Early-Data")) == "1",
	}
	// Before the handshake completes, all the server has read came from
	// the SYN; once it has, the client is live and no replay is possible.
	// A connection whose SYN carried no data needs no check.
	req.Handshake = !cs.info.SYNData || cs.handshakeDone()
	switch {
	case Safe(r):
	case req.EarlyData, !req.Handshake && g.Early == EarlyReject:
		http.Error(w, "425 Too Early: send the request again after the handshake, without TCP Fast Open (RFC 8470)", http.StatusTooEarly)
		if g.Held != nil {
			g.Held(r, ErrTooEarly)
		}
		return
	case !req.Handshake:
		start := time.Now()
		timeout := g.HandshakeTimeout
		if timeout <= 0 {
			timeout = DefaultHandshakeTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		err := fastopen.Handshake(ctx, cs.conn)
		cancel()
		req.Waited = time.Since(start)
		if g.Held != nil {
			g.Held(r, err)
		}
		if err != nil {
			// No answer: the peer of a replayed SYN is not the client.
			panic(http.ErrAbortHandler)
		}
		req.Handshake = true
		cs.handshake.Store(true)
	}
	g.Handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
}

// handshakeDone reports whether the connection's TCP handshake is over,
// as the kernel says (TCP_INFO) until it has said so once; a connection
// that cannot be queried counts as not done.
func (cs *connState) handshakeDone() bool {
	if cs.handshake.Load() {
		return true
	}
	inf, err := fastopen.InfoOf(cs.conn)
	done := err == nil && inf.State != "SYN_RECV"
	if done {
		cs.handshake.Store(true)
	}
	return done
}
