package fohttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"

	"github.com/fastopen/fastopen"
)

// IdempotencyKey is the request header that marks an unsafe request as
// safe to repeat (draft-ietf-httpapi-idempotency-key-header): the server
// runs it at most once per key.
const IdempotencyKey = "Idempotency-Key"

// Repeatable is the Transport's default rule for which plain-HTTP
// requests may ride in a SYN, where a replayed SYN could deliver them
// twice: safe methods (GET, HEAD, OPTIONS, TRACE) and requests with an
// Idempotency-Key header.
func Repeatable(r *http.Request) bool {
	return Safe(r) || r.Header.Get(IdempotencyKey) != ""
}

// maxRetryDrain bounds how much of a 425 response's body is read before
// the retry, so that its connection can be reused.
const maxRetryDrain = 64 << 10

// Transport is an http.RoundTripper over a fastopen.Dialer. It keeps two
// http.Transports, each with its own pool of keep-alive connections: one
// dials with TFO, the other with TFO disabled. Plain-HTTP requests that
// are safe to repeat (Repeatable) go through the first, so that a new
// connection carries them in its SYN; the others through the second,
// because a SYN can be replayed and the server would run them twice.
// HTTPS requests all go through the first: their SYN carries only the
// TLS ClientHello (see package fotls for one that fits). A 425 Too Early
// answer is retried once through the second, when the body can be sent
// again (no body, or Request.GetBody set). What happened is told per
// response by ReportOf.
//
// The zero value is ready to use. Set the fields before first use; a
// Transport is then safe for concurrent use.
type Transport struct {
	// Dialer dials; nil means a zero fastopen.Dialer. The plain pool uses
	// a copy with Disable set.
	Dialer *fastopen.Dialer
	// Base supplies every other setting (TLSClientConfig, timeouts, pool
	// sizes, Proxy); nil means http.DefaultTransport. It is cloned, not
	// changed; the clones' dial functions are replaced.
	Base *http.Transport
	// Repeatable decides which plain-HTTP requests may ride in a SYN;
	// nil means the function Repeatable.
	Repeatable func(*http.Request) bool
	// Dial, if set, is called instead of d.DialContext, with d the Dialer
	// of the pool (TFO, or TFO disabled): for instance to dial from
	// another network namespace.
	Dial func(ctx context.Context, d *fastopen.Dialer, network, address string) (net.Conn, error)

	once       sync.Once
	tfo, plain *http.Transport
}

// NewTransport returns a Transport with Dialer d and Base base.
func NewTransport(d *fastopen.Dialer, base *http.Transport) *Transport {
	return &Transport{Dialer: d, Base: base}
}

func (t *Transport) init() {
	d := t.Dialer
	if d == nil {
		d = &fastopen.Dialer{}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	pd := *d
	pd.Disable = true
	t.tfo, t.plain = base.Clone(), base.Clone()
	for _, p := range []struct {
		tr *http.Transport
		d  *fastopen.Dialer
	}{{t.tfo, d}, {t.plain, &pd}} {
		dial := p.d.DialContext
		if t.Dial != nil {
			fd := p.d
			dial = func(ctx context.Context, network, address string) (net.Conn, error) {
				return t.Dial(ctx, fd, network, address)
			}
		}
		p.tr.DialContext, p.tr.DialTLSContext, p.tr.Dial, p.tr.DialTLS = dial, nil, nil, nil //lint:ignore SA1019 both deprecated forms are cleared so that DialContext is used
	}
}

// Report tells what happened to one request; see ReportOf.
type Report struct {
	// Allowed: the request was allowed to ride in a SYN (an HTTPS
	// request, or a Repeatable one), so it went through the TFO pool.
	Allowed bool `json:"allowed"`
	// Reused: an idle keep-alive connection carried it: no handshake, no
	// SYN. Info then describes that connection's own first SYN.
	Reused bool `json:"reused"`
	// Retried: the server answered 425 Too Early and the request was sent
	// again without TFO; the other fields describe the retry.
	Retried bool `json:"retried"`
	// Info is the connection's TCP Fast Open info when the response
	// headers arrived: SYNData (the SYN's data was accepted: the request,
	// or over HTTPS the ClientHello), SYNSentBytes of FirstWriteBytes, and
	// Reason (ReasonTooBigForSYN when only part of it fit).
	Info fastopen.Info `json:"info"`
	// InfoErr is why Info could not be read, if it could not.
	InfoErr error `json:"-"`
}

// InSYN reports whether this request opened a new connection whose SYN
// carried its whole first flight and the server accepted it: the round
// trip TFO saves was saved.
func (r Report) InSYN() bool {
	return !r.Reused && r.Info.SYNData && r.Info.Reason == fastopen.ReasonNone
}

type reportKey struct{}

// ReportOf returns the Report of a response from a Transport; false for
// other responses.
func ReportOf(resp *http.Response) (Report, bool) {
	if resp == nil || resp.Request == nil {
		return Report{}, false
	}
	r, ok := resp.Request.Context().Value(reportKey{}).(*Report)
	if !ok {
		return Report{}, false
	}
	return *r, true
}

// RoundTrip sends req through the TFO or the plain pool (see Transport)
// and records a Report in the response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(t.init)
	repeatable := t.Repeatable
	if repeatable == nil {
		repeatable = Repeatable
	}
	allowed := req.URL.Scheme == "https" || repeatable(req)
	pool := t.plain
	if allowed {
		pool = t.tfo
	}
	rep := &Report{Allowed: allowed}
	resp, err := t.send(pool, req, rep)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTooEarly && (req.Body == nil || req.Body == http.NoBody || req.GetBody != nil) {
		retry := req.Clone(req.Context())
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return resp, nil // the 425 stands: the body cannot be sent again
			}
			retry.Body = body
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxRetryDrain))
		resp.Body.Close()
		rep = &Report{Allowed: false, Retried: true}
		if resp, err = t.send(t.plain, retry, rep); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// send runs req through pool, noting the connection it got into rep. The
// Info is read when the response's first byte arrives: the connection is
// open then, even if the server closes it right after.
func (t *Transport) send(pool *http.Transport, req *http.Request, rep *Report) (*http.Response, error) {
	var (
		mu   sync.Mutex
		conn net.Conn
		got  bool
	)
	trace := &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			mu.Lock()
			conn, rep.Reused = i.Conn, i.Reused
			mu.Unlock()
		},
		GotFirstResponseByte: func() {
			mu.Lock()
			if conn != nil {
				rep.Info, rep.InfoErr = fastopen.InfoOf(conn)
				got = true
			}
			mu.Unlock()
		},
	}
	ctx := httptrace.WithClientTrace(req.Context(), trace)
	resp, err := pool.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, dialFailure(err)
	}
	mu.Lock()
	if !got && conn != nil {
		rep.Info, rep.InfoErr = fastopen.InfoOf(conn)
	}
	mu.Unlock()
	resp.Request = resp.Request.WithContext(context.WithValue(req.Context(), reportKey{}, rep))
	return resp, nil
}

// dialFailure returns the dial's own error when err says that a lazy
// connection's handshake failed (a *net.OpError with Op "dial" matching
// fastopen.ErrNotDelivered): net/http reports it as the failed write of
// the request, in wrappers of its own that hide the error's Timeout
// method, so that url.Error.Timeout would be false where a dial that
// timed out with net.Dialer says true. A dial error is what net/http
// returns bare when a dial fails; so does this. Any other err is returned
// as it is.
func dialFailure(err error) error {
	var op *net.OpError
	if errors.Is(err, fastopen.ErrNotDelivered) && errors.As(err, &op) && op.Op == "dial" {
		return op
	}
	return err
}

// CloseIdleConnections closes the idle connections of both pools.
func (t *Transport) CloseIdleConnections() {
	t.once.Do(t.init)
	t.tfo.CloseIdleConnections()
	t.plain.CloseIdleConnections()
}
