package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/fohttp"
	"github.com/fastopen/fastopen/fotls"
)

// HTTPBody is what the bench's own HTTP(S) server (ServerHTTP,
// ServerHTTPS) answers to every request.
const HTTPBody = "hello from fastopen\n"

// Ports of the bench's HTTP servers.
const (
	benchHTTPPort  = 8081
	benchHTTPSPort = 8443
)

// maxHTTPBody bounds the response bodies the HTTP clients read.
const maxHTTPBody = 1 << 20

// isHTTPClient reports whether c is one of the Go HTTP clients.
func isHTTPClient(c string) bool {
	return c == ClientHTTP || c == ClientHTTPFit || c == ClientHTTPFitFull
}

// startHTTPServer runs this project's HTTP server (package fohttp's Guard
// on a fastopen listener) in e's server namespace, over TLS with a
// self-signed certificate when tls is set (returned, with a pool holding
// it for clients to trust). Its accepted connections' Info goes to infos.
func startHTTPServer(ctx context.Context, e *env, addr netip.AddrPort, useTLS bool, infos chan<- fastopen.Info) (cert tls.Certificate, pool *x509.CertPool, stop func(), err error) {
	var ln net.Listener
	lc := fastopen.ListenConfig{QueueLen: benchQueueLen}
	if err := e.server(func() error {
		var err error
		ln, err = lc.Listen(ctx, "tcp4", addr.String())
		return err
	}); err != nil {
		return cert, nil, nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, HTTPBody)
	})
	srv := fohttp.NewServer(h, fohttp.EarlyWait)
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if inf, err := fastopen.InfoOf(c); err == nil {
			select {
			case infos <- inf:
			default:
			}
		}
		return fohttp.ConnContext(ctx, c)
	}
	srv.ErrorLog = nil
	srv.ReadHeaderTimeout = 10 * time.Second
	if useTLS {
		cert, pool, err = fotls.SelfSigned([]string{addr.Addr().String()}, 24*time.Hour)
		if err != nil {
			ln.Close()
			return cert, nil, nil, err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if useTLS {
			srv.ServeTLS(ln, "", "")
		} else {
			srv.Serve(ln)
		}
	}()
	return cert, pool, func() { srv.Close(); <-done }, nil
}

// httpClient is a Go http.Client on a fohttp.Transport dialing from e's
// client namespace, a new connection per request; for HTTPS it trusts
// the bench server's certificate, with Go's default ClientHello or (fit)
// fotls.FitSYN's (with or without session resumption).
func httpClient(e *env, srv *server, v variant, timeout time.Duration) *http.Client {
	cfg := &tls.Config{RootCAs: srv.pool}
	switch v.client {
	case ClientHTTPFit:
		cfg = fotls.FitSYN(cfg)
	case ClientHTTPFitFull:
		cfg = fotls.FitSYN(cfg)
		cfg.ClientSessionCache = nil // no resumption: a full handshake every time
	}
	tr := &fohttp.Transport{
		Dialer: &fastopen.Dialer{Disable: !v.tfo},
		Base:   &http.Transport{DisableKeepAlives: true, TLSClientConfig: cfg, ForceAttemptHTTP2: true},
		Dial: func(ctx context.Context, d *fastopen.Dialer, network, address string) (c net.Conn, err error) {
			err = e.client(func() error { c, err = d.DialContext(ctx, network, address); return err })
			return c, err
		},
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// httpExchange sends one GET of about size bytes (padded with an X-Pad
// header) with a Go HTTP client and times it to the end of the body.
func httpExchange(ctx context.Context, srv *server, v variant, size int) (sample, error) {
	c := srv.clients[v]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url, nil)
	if err != nil {
		return sample{}, err
	}
	if pad := size - minHTTPRequest; pad > 0 {
		req.Header.Set("X-Pad", strings.Repeat("x", pad))
	}
	res, err := fohttp.Do(c, req, nil, maxHTTPBody)
	if err != nil {
		return sample{}, err
	}
	if res.Status != http.StatusOK {
		return sample{}, fmt.Errorf("%s answered %d", srv.url, res.Status)
	}
	if res.Report.InfoErr != nil {
		return sample{}, fmt.Errorf("connection info: %w", res.Report.InfoErr)
	}
	return sampleOf(res.Total, res.Report.Info), nil
}
