package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/fohttp"
	"github.com/fastopen/fastopen/fotls"
	"github.com/fastopen/fastopen/internal/atomicfile"
	"github.com/fastopen/fastopen/internal/cli"
)

// Bounds of `fastopen get`'s inputs.
const (
	maxGetCount   = 100000
	maxCAFileSize = 1 << 20
	maxGetHeaders = 100
	// maxClientWait bounds --timeout and --interval of get and send: a
	// typo such as 1000000h would otherwise hang a run for years.
	maxClientWait = time.Hour
)

// getRecord is one line of `fastopen get --json`.
type getRecord struct {
	Request     int     `json:"request"`
	URL         string  `json:"url"`
	Status      int     `json:"status"`
	Proto       string  `json:"proto"`
	FirstByteMS float64 `json:"first_byte_ms"`
	TotalMS     float64 `json:"total_ms"`
	BodyBytes   int64   `json:"body_bytes"`
	SYNData     bool    `json:"syn_data"`
	SYNBytes    int     `json:"syn_sent_bytes"`
	FirstWrite  int     `json:"first_write_bytes"`
	Reason      string  `json:"reason"`
	ReasonText  string  `json:"reason_text,omitempty"`
	Reused      bool    `json:"reused"`
	Retried     bool    `json:"retried"`
	TFOAllowed  bool    `json:"tfo_allowed"`
	TLSVersion  string  `json:"tls_version,omitempty"`
	TLSResumed  bool    `json:"tls_resumed"`
	RTTMS       float64 `json:"rtt_ms"`
}

// headerFlags collects repeated -H 'Name: value' flags.
type headerFlags http.Header

func (h headerFlags) String() string { return "" }

func (h headerFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
		return fmt.Errorf("header %q: want 'Name: value'", s)
	}
	if len(h) >= maxGetHeaders {
		return fmt.Errorf("more than %d headers", maxGetHeaders)
	}
	http.Header(h).Add(name, strings.TrimSpace(value))
	return nil
}

func init() {
	cli.Register(&cli.Command{
		Name:    "get",
		Summary: "fetch an http:// or https:// URL, curl-like, and print per request the time to first byte and what TFO did",
		Usage:   "URL [--count N] [--plain] [--fit-syn] [--insecure] [--ca F] [--keep-alive] [-X METHOD] [-d DATA] [-H 'K: V'] [--json]",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			count := fs.Int("count", 1, "number of requests, one after the other (the first to a new server gets the TFO cookie)")
			plain := fs.Bool("plain", false, "plain TCP, no TFO (for comparison)")
			fitSYN := fs.Bool("fit-syn", false, "HTTPS: an X25519-only key share so the ClientHello fits in the SYN; gives up the post-quantum key exchange (X25519MLKEM768) on these connections")
			insecure := fs.Bool("insecure", false, "HTTPS: do not verify the server's certificate")
			caFile := fs.String("ca", "", "HTTPS: trust the PEM certificates in this file (such as the one serve --tls --cert-out writes)")
			keepAlive := fs.Bool("keep-alive", false, "reuse the connection between requests (by default each request opens a new one, to show TFO)")
			method := fs.String("X", "GET", "request method; only safe methods (GET, HEAD, OPTIONS, TRACE) or requests with an Idempotency-Key header ride in the SYN")
			data := fs.String("d", "", "request body")
			headers := headerFlags{}
			fs.Var(headers, "H", "request header 'Name: value' (repeatable)")
			body := fs.Bool("body", true, "print the response bodies on standard output (--body=false to hide)")
			maxBody := fs.Int64("max-body", 10<<20, "most bytes of a response body to read")
			timeout := fs.Duration("timeout", 10*time.Second, "limit for each request")
			interval := fs.Duration("interval", 0, "pause between requests")
			asJSON := fs.Bool("json", false, "print one JSON object per request on standard output (no bodies)")
			return func(args []string) error {
				if len(args) != 1 {
					return cli.Usagef("want exactly one URL, got %d arguments", len(args))
				}
				u, err := url.Parse(args[0])
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return cli.Usagef("URL %q: want http://HOST[:PORT]/PATH or https://...", args[0])
				}
				if p := u.Port(); p != "" {
					if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
						return cli.Usagef("URL %q: port %q is not a number from 1 to 65535", args[0], p)
					}
				}
				if _, err := http.NewRequest(*method, u.String(), nil); err != nil {
					return cli.Usagef("-X %q: %v", *method, err)
				}
				if *count < 1 || *count > maxGetCount {
					return cli.Usagef("--count %d: want 1 to %d", *count, maxGetCount)
				}
				if *timeout <= 0 || *interval < 0 || *maxBody < 0 {
					return cli.Usagef("--timeout %v --interval %v --max-body %d: want a positive timeout, an interval and a body limit of 0 or more", *timeout, *interval, *maxBody)
				}
				if *timeout > maxClientWait || *interval > maxClientWait {
					return cli.Usagef("--timeout %v --interval %v: want at most %v each", *timeout, *interval, maxClientWait)
				}
				if u.Scheme == "http" && (*fitSYN || *insecure || *caFile != "") {
					return cli.Usagef("--fit-syn, --insecure and --ca concern https:// URLs, not %s", u.Scheme)
				}
				tcfg, err := getTLSConfig(*insecure, *caFile, *fitSYN)
				if err != nil {
					return err
				}
				base := &http.Transport{DisableKeepAlives: !*keepAlive, TLSClientConfig: tcfg, ForceAttemptHTTP2: true,
					TLSHandshakeTimeout: *timeout, ResponseHeaderTimeout: *timeout, Proxy: nil}
				tr := &fohttp.Transport{Dialer: &fastopen.Dialer{Disable: *plain, Dialer: net.Dialer{Timeout: *timeout}}, Base: base}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: *timeout}
				if !*asJSON {
					getBanner(os.Stderr, u, *count, *plain, *keepAlive, tcfg)
				}
				out := io.Writer(os.Stdout)
				if *asJSON || !*body {
					out = nil
				}
				for i := 1; i <= *count; i++ {
					var rd io.Reader
					if *data != "" {
						rd = strings.NewReader(*data)
					}
					req, err := http.NewRequestWithContext(context.Background(), *method, u.String(), rd)
					if err != nil {
						return cli.Usagef("-X %q: %v", *method, err)
					}
					for k, v := range headers {
						req.Header[k] = v
					}
					res, err := fohttp.Do(client, req, out, *maxBody)
					if err != nil && res.Status == 0 {
						return fmt.Errorf("request %d to %s: %w%s", i, u.Host, err, getHint(err, *timeout))
					}
					rec := newGetRecord(i, u.String(), res)
					if *asJSON {
						if err := cli.JSON(os.Stdout, rec); err != nil {
							return err
						}
					} else {
						printGet(os.Stderr, rec)
					}
					if err != nil {
						return fmt.Errorf("request %d: %w", i, err)
					}
					if *interval > 0 && i < *count {
						time.Sleep(*interval)
					}
				}
				return nil
			}
		},
	})
}

// getTLSConfig builds the client's TLS configuration from the flags.
func getTLSConfig(insecure bool, caFile string, fit bool) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := readBounded(caFile, maxCAFileSize)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it (want -----BEGIN CERTIFICATE----- blocks)", caFile)
		}
		cfg.RootCAs = pool
	}
	if fit {
		cfg = fotls.FitSYN(cfg)
	}
	return cfg, nil
}

// readBounded reads a regular file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	b, err := atomicfile.ReadRegular(name, limit)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than the %d bytes allowed", name, limit)
	}
	return b, nil
}

// getBanner says what `get` is about to do; for HTTPS, whether the
// ClientHello fits in a SYN.
func getBanner(w io.Writer, u *url.URL, count int, plain, keepAlive bool, cfg *tls.Config) {
	how := "TFO, a new connection per request"
	switch {
	case plain:
		how = "plain TCP, a new connection per request"
	case keepAlive:
		how = "TFO, keep-alive"
	}
	fmt.Fprintf(w, "fetching %s, %d request(s), %s\n", u, count, how)
	if u.Scheme == "https" {
		cfg = cfg.Clone()
		cfg.NextProtos = []string{"h2", "http/1.1"} // as net/http offers them
		if n, err := fotls.ClientHelloSize(cfg, u.Hostname()); err == nil {
			fit := "fits in a SYN (1420 B on a 1500-byte MTU)"
			if n > 1420 {
				fit = "does not fit in a SYN (1420 B on a 1500-byte MTU): expect too_big_for_syn; --fit-syn makes it fit"
			}
			fmt.Fprintf(w, "TLS ClientHello %d B: %s\n", n, fit)
		}
	}
}

func newGetRecord(i int, u string, res fohttp.Result) getRecord {
	inf := res.Report.Info
	rec := getRecord{
		Request: i, URL: u, Status: res.Status, Proto: res.Proto, FirstByteMS: ms(res.FirstByte), TotalMS: ms(res.Total),
		BodyBytes: res.BodyBytes, SYNData: inf.SYNData && !res.Report.Reused, SYNBytes: inf.SYNSentBytes, FirstWrite: inf.FirstWriteBytes,
		Reason: inf.Reason.Code(), Reused: res.Report.Reused, Retried: res.Report.Retried, TFOAllowed: res.Report.Allowed,
		TLSVersion: res.TLSVersion, TLSResumed: res.TLSResumed, RTTMS: ms(inf.RTT),
	}
	switch {
	case res.Report.Reused:
		rec.SYNBytes, rec.FirstWrite, rec.Reason = 0, 0, "reused"
	case res.Report.Retried && inf.Reason == fastopen.ReasonDisabled:
		rec.Reason = "retried_after_425"
		rec.ReasonText = "the server answered 425 Too Early; the request was sent again without TFO"
	case !res.Report.Allowed && inf.Reason == fastopen.ReasonDisabled:
		rec.Reason = "not_repeatable"
		rec.ReasonText = "not safe to repeat (unsafe method, no Idempotency-Key header): dialed without TFO, since a replayed SYN could run it twice"
	case inf.Reason != fastopen.ReasonNone:
		rec.ReasonText = inf.Reason.String()
	}
	return rec
}

func printGet(w io.Writer, r getRecord) {
	syn := "no"
	if r.SYNData {
		syn = fmt.Sprintf("yes (%d of %d B)", r.SYNBytes, r.FirstWrite)
	}
	fmt.Fprintf(w, "#%d  %d %s  first byte %.3f ms  total %.3f ms  data in SYN: %s", r.Request, r.Status, r.Proto, r.FirstByteMS, r.TotalMS, syn)
	switch {
	case r.Reused:
		fmt.Fprint(w, "  (keep-alive: connection reused, no handshake)")
	case r.Reason != "":
		fmt.Fprintf(w, "  (%s: %s)", r.Reason, r.ReasonText)
	}
	if r.TLSVersion != "" {
		fmt.Fprintf(w, "  %s", r.TLSVersion)
		if r.TLSResumed {
			fmt.Fprint(w, " resumed")
		}
	}
	fmt.Fprintln(w)
}

// getHint says what to do about a failed request where the user can act.
func getHint(err error, timeout time.Duration) string {
	var cerr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &cerr):
		return " (a self-signed server? pass its certificate with --ca F, or --insecure)"
	}
	return sendHint(err, timeout, 0, true)
}
