package fohttp_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fastopen/fastopen/fohttp"
)

// serveLoopback serves h on a loopback listener and returns its URL.
func serveLoopback(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestEarlyDataHeader: behind a proxy that forwarded a request from early
// data (Early-Data: 1), unsafe requests are answered 425 whatever the
// policy, safe ones are served; the Transport retries the 425 once
// without TFO when it can resend the body, and the retry, still marked
// by the proxy, gets 425 again and stands.
func TestEarlyDataHeader(t *testing.T) {
	var runs atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		fr, ok := fohttp.RequestOf(r.Context())
		if !ok {
			t.Error("no fohttp.Request in the handler's context")
		}
		if fr.EarlyData != (r.Header.Get("Early-Data") == "1") {
			t.Errorf("Request.EarlyData %v for header %q", fr.EarlyData, r.Header.Get("Early-Data"))
		}
	})
	url := serveLoopback(t, fohttp.NewServer(h, fohttp.EarlyWait))
	tr := &fohttp.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for _, tc := range []struct {
		method string
		want   int
	}{{"GET", 200}, {"HEAD", 200}, {"OPTIONS", 200}, {"POST", 425}, {"PUT", 425}, {"DELETE", 425}} {
		req, _ := http.NewRequest(tc.method, url, strings.NewReader("x"))
		req.Header.Set("Early-Data", "1")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rep, _ := fohttp.ReportOf(resp)
		if resp.StatusCode != tc.want {
			t.Errorf("%s with Early-Data: 1: status %d, want %d", tc.method, resp.StatusCode, tc.want)
		}
		if tc.want == 425 && !rep.Retried {
			t.Errorf("%s: 425 not retried: %+v", tc.method, rep)
		}
	}
	if n := runs.Load(); n != 3 {
		t.Errorf("handler ran %d times, want 3 (the safe methods)", n)
	}
}

// TestGuardWithoutConnContext: a Guard on a server without ConnContext
// cannot tell a request from a SYN and says so (500) instead of serving
// unsafe requests unguarded.
func TestGuardWithoutConnContext(t *testing.T) {
	url := serveLoopback(t, &http.Server{Handler: &fohttp.Guard{Handler: http.NotFoundHandler()}})
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(b), "ConnContext") {
		t.Fatalf("status %d %q, want 500 naming ConnContext", resp.StatusCode, b)
	}
}

func TestRepeatableAndPolicy(t *testing.T) {
	for _, tc := range []struct {
		method, key string
		want        bool
	}{{"GET", "", true}, {"HEAD", "", true}, {"POST", "", false}, {"POST", "k1", true}, {"PATCH", "", false}, {"DELETE", "", false}} {
		r, _ := http.NewRequest(tc.method, "http://x/", nil)
		if tc.key != "" {
			r.Header.Set(fohttp.IdempotencyKey, tc.key)
		}
		if got := fohttp.Repeatable(r); got != tc.want {
			t.Errorf("Repeatable(%s, key %q) = %v, want %v", tc.method, tc.key, got, tc.want)
		}
	}
	for _, s := range []string{"wait", "reject"} {
		p, err := fohttp.ParseEarlyPolicy(s)
		if err != nil || p.String() != s {
			t.Errorf("ParseEarlyPolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := fohttp.ParseEarlyPolicy("maybe"); err == nil || !strings.Contains(err.Error(), "wait") {
		t.Errorf("ParseEarlyPolicy(maybe): %v, want an error naming the choices", err)
	}
}
