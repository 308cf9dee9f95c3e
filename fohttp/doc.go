// Package fohttp adapts net/http to TCP Fast Open: a server helper that
// keeps TFO's saved round trip for requests that are safe to answer from
// a SYN and guards the others against replayed SYNs (RFC 7413 section 6,
// RFC 8470), and a client Transport that lets only requests that are
// safe to repeat ride in a SYN and tells, per request, what happened.
//
// Server: serve a fastopen listener with a Guard as the handler and
// ConnContext as http.Server.ConnContext (NewServer does both):
//
//	ln, _ := (&fastopen.ListenConfig{}).Listen(ctx, "tcp", ":8080")
//	srv := fohttp.NewServer(mux, fohttp.EarlyWait)
//	srv.Serve(ln) // or srv.ServeTLS(ln, cert, key)
//
// Every request then carries a Request (RequestOf(r.Context())): did it
// arrive in the SYN, had the client completed the handshake. Safe
// methods (GET, HEAD, OPTIONS, TRACE) are answered at once; an unsafe
// request that arrived in SYN data waits for the handshake (EarlyWait)
// or is answered 425 Too Early (EarlyReject).
//
// Client: NewTransport wraps a fastopen.Dialer into an http.RoundTripper:
//
//	client := &http.Client{Transport: fohttp.NewTransport(&fastopen.Dialer{}, nil)}
//	resp, _ := client.Get("http://192.0.2.1:8080/")
//	rep, _ := fohttp.ReportOf(resp) // rep.Info.SYNData, rep.Info.SYNSentBytes, rep.Info.Reason
//
// For HTTPS the SYN carries the TLS ClientHello, never the request (Go's
// crypto/tls sends no 0-RTT data), and the saving needs a ClientHello
// that fits in the SYN: see package fotls.
package fohttp
