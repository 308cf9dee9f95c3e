package fohttp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/fohttp"
	"github.com/fastopen/fastopen/fotls"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// testServer is an HTTP(S) server with a Guard in a lab's server host.
type testServer struct {
	url  string
	pool *x509.CertPool // for HTTPS
	mu   sync.Mutex
	runs map[string]int      // handler runs per method and path
	reqs chan fohttp.Request // what the Guard told each handler
	held chan error          // Guard.Held
	// served gets the method and path of each request the Guard is done
	// with (answered, rejected or dropped).
	served chan string
	// resumed says, per handler run, whether the TLS session was resumed;
	// lastResumed is its value for the request nextRequest returned.
	resumed     chan bool
	lastResumed bool
}

// startServer serves a Guard with policy p from l's server host on port;
// with https, over TLS with a self-signed certificate.
func startServer(t *testing.T, l *lab.Lab, p fohttp.EarlyPolicy, port uint16, https bool) *testServer {
	t.Helper()
	addr := netip.AddrPortFrom(l.ServerAddr(false), port)
	ln := labtest.Listen(t, l.Server, &fastopen.ListenConfig{}, "tcp4", addr.String())
	s := &testServer{url: "http://" + addr.String(), runs: map[string]int{}, reqs: make(chan fohttp.Request, 16), resumed: make(chan bool, 16), served: make(chan string, 64), held: make(chan error, 16)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.runs[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		fr, _ := fohttp.RequestOf(r.Context())
		s.reqs <- fr
		s.resumed <- r.TLS != nil && r.TLS.DidResume
		io.WriteString(w, "done\n")
	})
	srv := fohttp.NewServer(h, p)
	g := srv.Handler.(*fohttp.Guard)
	g.Held = func(_ *http.Request, err error) { s.held <- err }
	g.HandshakeTimeout = 2 * time.Second
	// served signals every request the Guard is done with, answered,
	// rejected or dropped: the readiness signal of the replay test.
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { s.served <- r.Method + " " + r.URL.Path }()
		g.ServeHTTP(w, r)
	})
	srv.ErrorLog = nil
	if https {
		cert, pool, err := fotls.SelfSigned([]string{addr.Addr().String()}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s.pool, s.url = pool, "https://"+addr.String()
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *testServer) handlerRuns(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[key]
}

// nextRequest is what the Guard told the next handler run.
func (s *testServer) nextRequest(t *testing.T) fohttp.Request {
	t.Helper()
	select {
	case r := <-s.reqs:
		s.lastResumed = <-s.resumed
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the handler")
	}
	return fohttp.Request{}
}

// labTransport is a fohttp.Transport dialing from l's client host.
func labTransport(l *lab.Lab, d *fastopen.Dialer, base *http.Transport) *fohttp.Transport {
	return &fohttp.Transport{Dialer: d, Base: base, Dial: func(ctx context.Context, d *fastopen.Dialer, network, address string) (c net.Conn, err error) {
		err = l.Client.Run(func() error { c, err = d.DialContext(ctx, network, address); return err })
		return c, err
	}}
}

// do sends one request and returns the time to the response headers, the
// body and the report.
func do(t *testing.T, c *http.Client, method, url string, hdr http.Header, body string) (time.Duration, string, fohttp.Report, int) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	elapsed := time.Since(start)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	rep, ok := fohttp.ReportOf(resp)
	if !ok {
		t.Fatalf("%s %s: no report on the response", method, url)
	}
	return elapsed, string(b), rep, resp.StatusCode
}

func rtts(d, rtt time.Duration) float64 { return float64(d) / float64(rtt) }

// TestHTTPGet: a warm GET rides in the SYN and is answered in about one
// round trip (the Guard answers safe requests at once); plain TCP takes
// two. The client's count of bytes in the SYN matches the server's, and
// both ends say the request came in the SYN. A POST without an
// Idempotency-Key does not ride in the SYN. Keep-alive works.
func TestHTTPGet(t *testing.T) {
	const rtt = 30 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: rtt})
	srv := startServer(t, l, fohttp.EarlyWait, 8080, false)
	tr := labTransport(l, &fastopen.Dialer{}, &http.Transport{DisableKeepAlives: true})
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	_, _, cold, _ := do(t, c, "GET", srv.url+"/", nil, "")
	srv.nextRequest(t)
	if cold.Info.SYNData || cold.Info.Reason != fastopen.ReasonNoCookie {
		t.Fatalf("cold GET: %+v, want no_cookie", cold.Info)
	}
	// Timing: the best of three, since load on the machine only adds
	// time; every one of them must ride in the SYN.
	var warmT time.Duration
	var warm fohttp.Report
	early := false // a GET from the SYN was answered before the handshake completed
	for i := 0; i < 3; i++ {
		d, body, rep, _ := do(t, c, "GET", srv.url+"/", nil, "")
		sreq := srv.nextRequest(t)
		if body != "done\n" || !rep.InSYN() || !rep.Allowed || rep.Info.SYNSentBytes != rep.Info.FirstWriteBytes {
			t.Errorf("warm GET: %+v, want the whole request in the SYN", rep)
		}
		if !sreq.InSYN || sreq.Info.SYNBytes != rep.Info.SYNSentBytes {
			t.Errorf("warm GET, server: %+v; want the request in the SYN (%d B)", sreq, rep.Info.SYNSentBytes)
		}
		early = early || !sreq.Handshake
		if i == 0 || d < warmT {
			warmT, warm = d, rep
		}
	}
	if !early {
		t.Errorf("no warm GET was answered before its handshake completed: the Guard waited for safe requests")
	}
	plain := &http.Client{Transport: labTransport(l, &fastopen.Dialer{Disable: true}, &http.Transport{DisableKeepAlives: true}), Timeout: 5 * time.Second}
	plainT, _, prep, _ := do(t, plain, "GET", srv.url+"/", nil, "")
	srv.nextRequest(t)
	if prep.Info.SYNData || prep.Info.Reason != fastopen.ReasonDisabled {
		t.Errorf("plain GET: %+v", prep.Info)
	}
	t.Logf("GET: warm %v (%.2f RTT, %d B in SYN), plain %v (%.2f RTT)", warmT, rtts(warmT, rtt), warm.Info.SYNSentBytes, plainT, rtts(plainT, rtt))
	if r := rtts(warmT, rtt); r > 1.5 {
		t.Errorf("warm GET took %.2f RTT, want about 1", r)
	}
	if r := rtts(plainT, rtt); r < 1.9 {
		t.Errorf("plain GET took %.2f RTT, want about 2", r)
	}

	_, _, post, _ := do(t, c, "POST", srv.url+"/order", nil, "one order")
	srv.nextRequest(t)
	if post.Allowed || post.Info.SYNData || post.Info.Reason != fastopen.ReasonDisabled {
		t.Errorf("POST without Idempotency-Key: %+v, want it dialed without TFO", post)
	}

	// Keep-alive: the second GET reuses the first one's connection.
	ka := &http.Client{Transport: labTransport(l, &fastopen.Dialer{}, &http.Transport{}), Timeout: 5 * time.Second}
	_, _, r1, _ := do(t, ka, "GET", srv.url+"/", nil, "")
	_, _, r2, _ := do(t, ka, "GET", srv.url+"/", nil, "")
	srv.nextRequest(t)
	srv.nextRequest(t)
	if r1.Reused || !r1.InSYN() || !r2.Reused || r2.InSYN() {
		t.Errorf("keep-alive: first %+v, second %+v; want the second on the first's connection", r1, r2)
	}
}

// TestHTTPS: with Go's default ClientHello (post-quantum key share, about
// 1.5 KB) only part of it rides in the SYN and the first response takes 3
// round trips as over plain TCP, and the client says why
// (too_big_for_syn); with fotls.FitSYN the whole ClientHello rides in the
// SYN (the server's count agrees) and the response takes 2. A resumed
// session still fits and takes 2.
func TestHTTPS(t *testing.T) {
	const rtt = 30 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: rtt})
	srv := startServer(t, l, fohttp.EarlyWait, 8443, true)
	client := func(d *fastopen.Dialer, cfg *tls.Config) *http.Client {
		return &http.Client{Transport: labTransport(l, d, &http.Transport{DisableKeepAlives: true, TLSClientConfig: cfg}), Timeout: 5 * time.Second}
	}
	def := client(&fastopen.Dialer{}, &tls.Config{RootCAs: srv.pool})
	do(t, def, "GET", srv.url+"/", nil, "") // cold: fetches the cookie
	srv.nextRequest(t)
	defT, _, defRep, _ := do(t, def, "GET", srv.url+"/", nil, "")
	if sreq := srv.nextRequest(t); !sreq.TLS || sreq.InSYN || !sreq.Info.SYNData || sreq.Info.SYNBytes != defRep.Info.SYNSentBytes {
		t.Errorf("default HTTPS, server: %+v; want part of the ClientHello (%d B) in the SYN", sreq, defRep.Info.SYNSentBytes)
	}
	if !defRep.Info.SYNData || defRep.InSYN() || defRep.Info.Reason != fastopen.ReasonTooBigForSYN || defRep.Info.FirstWriteBytes <= defRep.Info.SYNSentBytes {
		t.Errorf("default HTTPS: %+v, want part of the ClientHello in the SYN, too_big_for_syn", defRep.Info)
	}

	// FitSYN: three clients with fresh session caches make full
	// handshakes, then the last one resumes its session three times.
	// Timing: the best of each kind, as load only adds time.
	var fitT [2]time.Duration
	var fit *http.Client
	for i := 0; i < 6; i++ {
		if i < 3 {
			fit = client(&fastopen.Dialer{}, fotls.FitSYN(&tls.Config{RootCAs: srv.pool}))
		}
		d, _, rep, _ := do(t, fit, "GET", srv.url+"/", nil, "")
		sreq := srv.nextRequest(t)
		resumed := i >= 3
		if srv.lastResumed != resumed {
			t.Errorf("FitSYN HTTPS #%d: resumed %v, want %v", i+1, srv.lastResumed, resumed)
		}
		if !rep.InSYN() || sreq.Info.SYNBytes != rep.Info.SYNSentBytes {
			t.Errorf("FitSYN HTTPS #%d: client %+v, server saw %d B in the SYN; want the whole ClientHello in it", i+1, rep.Info, sreq.Info.SYNBytes)
		}
		k := 0
		if resumed {
			k = 1
		}
		if fitT[k] == 0 || d < fitT[k] {
			fitT[k] = d
		}
	}
	plain := client(&fastopen.Dialer{Disable: true}, &tls.Config{RootCAs: srv.pool})
	plainT, _, _, _ := do(t, plain, "GET", srv.url+"/", nil, "")
	srv.nextRequest(t)
	t.Logf("HTTPS GET: default %v (%.2f RTT, %d of %d B in SYN), FitSYN %v (%.2f RTT), resumed %v (%.2f RTT), plain %v (%.2f RTT)",
		defT, rtts(defT, rtt), defRep.Info.SYNSentBytes, defRep.Info.FirstWriteBytes, fitT[0], rtts(fitT[0], rtt), fitT[1], rtts(fitT[1], rtt), plainT, rtts(plainT, rtt))
	if r := rtts(defT, rtt); r < 2.9 {
		t.Errorf("default HTTPS over TFO took %.2f RTT, want about 3 (the ClientHello does not fit)", r)
	}
	for i, d := range fitT {
		if r := rtts(d, rtt); r > 2.5 {
			t.Errorf("FitSYN HTTPS #%d took %.2f RTT, want about 2", i+1, r)
		}
	}
	if r := rtts(plainT, rtt); r < 2.9 {
		t.Errorf("plain HTTPS took %.2f RTT, want about 3", r)
	}
}

// TestReplayedPOST: a POST that rides in a SYN (it has an Idempotency-Key)
// is replayed by the network after its connection is gone. Whatever the
// policy its handler runs exactly once: EarlyWait serves the original
// after its handshake and drops the replay, whose handshake never
// completes; EarlyReject answers both 425, and the Transport retries the
// original without TFO.
func TestReplayedPOST(t *testing.T) {
	for _, p := range []fohttp.EarlyPolicy{fohttp.EarlyWait, fohttp.EarlyReject} {
		t.Run(p.String(), func(t *testing.T) {
			// 40 ms: the original POST reaches the Guard well before its
			// handshake completes, one round trip after its SYN arrived.
			const rtt = 40 * time.Millisecond
			l := labtest.Lab(t, lab.Config{RTT: rtt, Faults: []lab.Rule{{
				Name: "replay-syn-data", Dir: lab.Up, Match: lab.Match{SYN: true, Payload: true}, Action: lab.Duplicate, Delay: 300 * time.Millisecond,
			}}})
			srv := startServer(t, l, p, 8080, false)
			tr := labTransport(l, &fastopen.Dialer{}, &http.Transport{})
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			do(t, c, "GET", srv.url+"/", nil, "") // cold: no data in the SYN, nothing replayed
			srv.nextRequest(t)
			tr.CloseIdleConnections() // the client closes first: no TIME_WAIT at the server to stop the replay

			start := time.Now()
			_, body, rep, status := do(t, c, "POST", srv.url+"/order", http.Header{"Idempotency-Key": {"order-1"}}, "transfer 100 to alice")
			elapsed := time.Since(start)
			tr.CloseIdleConnections()
			if status != http.StatusOK || body != "done\n" {
				t.Fatalf("POST: %d %q", status, body)
			}
			if p == fohttp.EarlyReject && (!rep.Retried || rep.Info.SYNData) {
				t.Errorf("POST answered 425: report %+v, want it retried without TFO", rep)
			}
			if p == fohttp.EarlyWait && (!rep.InSYN() || rep.Retried) {
				t.Errorf("POST held for the handshake: report %+v, want it served from the SYN after the handshake", rep)
			}
			// The original and its replay reach the server; with
			// EarlyReject so does the retry.
			want := 2
			if p == fohttp.EarlyReject {
				want = 3
			}
			for got := 0; got < want; {
				select {
				case k := <-srv.served:
					if k == "POST /order" {
						got++
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("%d POSTs reached the server, want %d (the original, its replay, any retry)", got, want)
				}
			}
			if n := srv.handlerRuns("POST /order"); n != 1 {
				t.Fatalf("the POST's handler ran %d times, want exactly once", n)
			}
			var held []error
			for len(srv.held) > 0 {
				held = append(held, <-srv.held)
			}
			if len(held) != 2 {
				t.Fatalf("the Guard held %d requests (%v), want 2: the original and its replay", len(held), held)
			}
			switch p {
			case fohttp.EarlyWait:
				if held[0] != nil || held[1] == nil {
					t.Errorf("held: %v, want the original served and the replay dropped", held)
				}
			case fohttp.EarlyReject:
				if !errors.Is(held[0], fohttp.ErrTooEarly) || !errors.Is(held[1], fohttp.ErrTooEarly) {
					t.Errorf("held: %v, want both answered 425", held)
				}
			}
			if hits := l.Stats().Rules[0].Hits; hits != 1 {
				t.Errorf("the replay rule matched %d packets, want the one SYN with the POST", hits)
			}
			t.Logf("policy %s: POST done in %v (%.2f RTT), retried %v; held %v", p, elapsed, rtts(elapsed, rtt), rep.Retried, held)
		})
	}
}

// TestDialTimeout: a request to a dead host whose cookie is cached fails
// after the Dialer's Timeout with the error net/http gives for a dial that
// timed out with net.Dialer: a url.Error whose Timeout is true, around the
// dial's *net.OpError, which says the request was not delivered.
func TestDialTimeout(t *testing.T) {
	labtest.NeedRoot(t)
	const deadPort, timeout = 9, 300 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{lab.DropPort(deadPort)}})
	srv := startServer(t, l, fohttp.EarlyWait, 8080, false)
	d := &fastopen.Dialer{Dialer: net.Dialer{Timeout: timeout}}
	tr := labTransport(l, d, nil)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr} // no client timeout: the dialer's must hold
	// A first request fetches the server's cookie, for the IP the dead
	// port shares.
	do(t, client, "GET", srv.url+"/cookie", nil, "")
	dead := "http://" + netip.AddrPortFrom(l.ServerAddr(false), deadPort).String() + "/"
	start := time.Now()
	resp, err := client.Get(dead)
	took := time.Since(start)
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET from a dead host succeeded")
	}
	var ue *url.Error
	var op *net.OpError
	if !errors.As(err, &ue) || !ue.Timeout() || !errors.As(ue.Err, &op) || ue.Err != error(op) || op.Op != "dial" || !errors.Is(err, fastopen.ErrNotDelivered) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GET: %v (%T inside), want a url.Error that is a timeout around the dial's *net.OpError", err, errors.Unwrap(err))
	}
	if took > timeout+time.Second {
		t.Fatalf("GET failed after %v, want about the Timeout (%v)", took, timeout)
	}
	t.Logf("GET: %v after %v", err, took)
}
