package fohttp

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// Result is what Do measured about one request.
type Result struct {
	// Status is the response's status code; Proto its protocol
	// ("HTTP/1.1", "HTTP/2.0").
	Status int    `json:"status"`
	Proto  string `json:"proto"`
	// FirstByte is the time from the start of Do to the response's first
	// byte; Total to the end of its body. JSON: nanoseconds.
	FirstByte time.Duration `json:"first_byte_ns"`
	Total     time.Duration `json:"total_ns"`
	// BodyBytes is the length of the body read.
	BodyBytes int64 `json:"body_bytes"`
	// TLSResumed: the TLS session was resumed (HTTPS only).
	TLSResumed bool `json:"tls_resumed"`
	// TLSVersion is the negotiated TLS version ("TLS 1.3"); empty for
	// plain HTTP.
	TLSVersion string `json:"tls_version,omitempty"`
	// Report tells what TFO did, when the client's Transport is a
	// *Transport (Allowed false and a zero Info otherwise).
	Report Report `json:"report"`
}

// ErrBodyTooLarge is wrapped by Do's error when a body exceeds its limit.
var ErrBodyTooLarge = fmt.Errorf("fohttp: response body too large")

// Do sends req with c, copies at most maxBody bytes of the response body
// to body (nil: discarded) and times the exchange. A longer body is an
// error wrapping ErrBodyTooLarge, with the Result so far.
func Do(c *http.Client, req *http.Request, body io.Writer, maxBody int64) (Result, error) {
	var (
		mu    sync.Mutex
		first time.Duration
	)
	start := time.Now()
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() {
		mu.Lock()
		first = time.Since(start)
		mu.Unlock()
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := c.Do(req)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	if body == nil {
		body = io.Discard
	}
	n, err := io.Copy(body, io.LimitReader(resp.Body, maxBody))
	tooLarge := false
	if err == nil {
		var one [1]byte
		m, _ := io.ReadFull(resp.Body, one[:])
		tooLarge = m > 0
	}
	res := Result{Status: resp.StatusCode, Proto: resp.Proto, Total: time.Since(start), BodyBytes: n}
	mu.Lock()
	res.FirstByte = first
	mu.Unlock()
	if resp.TLS != nil {
		res.TLSResumed, res.TLSVersion = resp.TLS.DidResume, tls.VersionName(resp.TLS.Version)
	}
	res.Report, _ = ReportOf(resp)
	if err != nil {
		return res, fmt.Errorf("fohttp: read the response body: %w", err)
	}
	if tooLarge {
		return res, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, maxBody)
	}
	return res, nil
}
