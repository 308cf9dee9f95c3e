package main

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/fohttp"
	"github.com/fastopen/fastopen/fotls"
	"github.com/fastopen/fastopen/internal/accept"
)

// httpServe is how `fastopen serve --http` or `--tls` serves.
type httpServe struct {
	tls              bool
	cert, key        string // PEM files; empty: a self-signed certificate
	certOut          string // where to write the self-signed certificate
	early            fohttp.EarlyPolicy
	accepted         func(net.Conn, fastopen.Info)
	handshakeTimeout time.Duration
	maxConns         int           // most connections served at once (--max-conns)
	idle             time.Duration // close a connection without a request for this long (--idle-timeout)
}

// selfSignedValidity is how long serve's self-signed certificate is valid.
const selfSignedValidity = 7 * 24 * time.Hour

// serve runs an HTTP(S) server with a fohttp.Guard on ln until ctx ends.
func (o *httpServe) serve(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fr, _ := fohttp.RequestOf(r.Context())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from fastopen: %s %s; request in SYN: %s; handshake complete: %s\n", r.Method, r.URL.Path, yesNo(fr.InSYN), yesNo(fr.Handshake))
		log.Info("request", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "proto", r.Proto, "tls", fr.TLS,
			"conn_syn_data", fr.Info.SYNData, "syn_bytes", fr.Info.SYNBytes, "in_syn", fr.InSYN, "early_data_header", fr.EarlyData,
			"handshake", fr.Handshake, "waited", fr.Waited)
	})
	srv := fohttp.NewServer(h, o.early)
	g := srv.Handler.(*fohttp.Guard)
	g.HandshakeTimeout = o.handshakeTimeout
	g.Held = func(r *http.Request, err error) {
		switch {
		case err == nil:
		case errors.Is(err, fohttp.ErrTooEarly):
			log.Info("425 Too Early", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		default:
			log.Warn("request from a SYN dropped: its handshake did not complete (a replayed SYN?)", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "error", err.Error())
		}
	}
	if o.accepted != nil {
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if inf, err := fastopen.InfoOf(c); err == nil {
				o.accepted(c, inf)
			}
			return fohttp.ConnContext(ctx, c)
		}
	}
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	// A connection that sends no request, or no further one, is closed
	// after --idle-timeout (at most 10 s for a request's headers).
	srv.ReadHeaderTimeout, srv.IdleTimeout = min(10*time.Second, o.idle), o.idle
	if o.maxConns > 0 {
		// Beyond --max-conns, connections wait in the kernel's accept
		// queue, as for the echo server.
		ln = accept.Limit(ln, o.maxConns)
	}
	if o.tls {
		cert, err := o.certificate(ln.Addr())
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	defer stop()
	var err error
	if o.tls {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// certificate loads --cert and --key, or makes a self-signed certificate
// for the listening address, the host's addresses and localhost (written
// to --cert-out when given).
func (o *httpServe) certificate(addr net.Addr) (tls.Certificate, error) {
	if o.cert != "" {
		var pem [2][]byte
		for i, f := range []string{o.cert, o.key} {
			b, err := readBounded(f, maxCAFileSize)
			if err != nil {
				return tls.Certificate{}, fmt.Errorf("--cert/--key: %w", err)
			}
			pem[i] = b
		}
		c, err := tls.X509KeyPair(pem[0], pem[1])
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("--cert %s --key %s: %w", o.cert, o.key, err)
		}
		return c, nil
	}
	hosts := []string{"localhost"}
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		hosts = append(hosts, ta.IP.String())
	} else if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				hosts = append(hosts, ipn.IP.String())
			}
		}
	}
	cert, _, err := fotls.SelfSigned(hosts, selfSignedValidity)
	if err != nil {
		return tls.Certificate{}, err
	}
	if o.certOut != "" {
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
		if err := os.WriteFile(o.certOut, b, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("--cert-out: %w", err)
		}
	}
	return cert, nil
}
