package main

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/bench"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// getRecords runs `fastopen get --json` in h.
func getRecords(t *testing.T, h *lab.Host, args ...string) []getRecord {
	t.Helper()
	return jsonRecords[getRecord](t, h, "get", args...)
}

// TestServeHTTP: curl --tcp-fastopen and `fastopen get` against `fastopen
// serve --http`: the second request of each arrives in the SYN (the
// server's log, from its TCP_INFO, says so, with the bytes the client
// counted); a POST without an Idempotency-Key does not.
func TestServeHTTP(t *testing.T) {
	curl := labtest.NeedCommand(t, "curl")
	h := labtest.Host(t, "cli", 3)
	logs := startServe(t, h, "--addr", "127.0.0.1:8080", "--http")
	for i := 0; i < 2; i++ {
		out, err := h.Command(curl, "-sS", "--tcp-fastopen", "http://127.0.0.1:8080/curl").Output()
		if err != nil || !strings.HasPrefix(string(out), "hello from fastopen: GET /curl") {
			t.Fatalf("curl: %q, %v", out, err)
		}
		if l := nextLog(t, logs); l.InSYN != (i == 1) || (i == 1) != (l.SYNBytes > 0) {
			t.Fatalf("curl request %d: log %+v, want in_syn=%v", i+1, l, i == 1)
		}
	}
	// The cookie curl fetched is the kernel's, per server address: get
	// uses it at once.
	recs := getRecords(t, h, "http://127.0.0.1:8080/get")
	l := nextLog(t, logs)
	if len(recs) != 1 || recs[0].Status != 200 || !recs[0].SYNData || recs[0].Reason != "" {
		t.Fatalf("get records: %+v", recs)
	}
	if !l.InSYN || l.SYNBytes != recs[0].SYNBytes || recs[0].SYNBytes != recs[0].FirstWrite {
		t.Fatalf("server log %+v; client counted %d of %d B in the SYN", l, recs[0].SYNBytes, recs[0].FirstWrite)
	}
	post := getRecords(t, h, "http://127.0.0.1:8080/post", "-X", "POST", "-d", "x")
	if l := nextLog(t, logs); len(post) != 1 || post[0].SYNData || post[0].TFOAllowed || post[0].Reason != "not_repeatable" || l.InSYN || l.Method != "POST" {
		t.Fatalf("POST: record %+v, log %+v; want it dialed without TFO", post, l)
	}
}

// TestServeTLS: `fastopen get` against `fastopen serve --tls` over the
// lab's 1500-byte link: Go's default ClientHello rides only in part
// (too_big_for_syn), --fit-syn's whole, and the second connection
// resumes the TLS session.
func TestServeTLS(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond})
	addr := netip.AddrPortFrom(l.ServerAddr(false), 8443).String()
	cert := filepath.Join(t.TempDir(), "cert.pem")
	logs := startServe(t, l.Server, "--addr", addr, "--tls", "--cert-out", cert)
	def := getRecords(t, l.Client, "https://"+addr+"/", "--count", "2", "--ca", cert)
	fit := getRecords(t, l.Client, "https://"+addr+"/", "--count", "2", "--ca", cert, "--fit-syn")
	for range 4 {
		nextLog(t, logs)
	}
	if len(def) != 2 || def[1].Status != 200 || !def[1].SYNData || def[1].SYNBytes != 1420 || def[1].Reason != "too_big_for_syn" {
		t.Errorf("default ClientHello: %+v, want 1420 B in the SYN, too_big_for_syn", def)
	}
	if len(fit) != 2 || !fit[1].SYNData || fit[1].Reason != "" || fit[1].SYNBytes != fit[1].FirstWrite || !fit[1].TLSResumed {
		t.Errorf("--fit-syn: %+v, want the whole ClientHello in the SYN and a resumed session", fit)
	}
}

// TestGetNginx: `fastopen get` (Go's http.Client with fohttp.Transport)
// against nginx listening with fastopen: the second GET rides in the SYN.
func TestGetNginx(t *testing.T) {
	h := labtest.Host(t, "cli", 3)
	nginxAddr := netip.MustParseAddrPort("127.0.0.1:8080")
	labtest.StartNginx(t, h, nginxAddr, func(dir string) string { return bench.NginxConfig(dir, nginxAddr, 16) })
	recs := getRecords(t, h, "http://127.0.0.1:8080/", "--count", "3")
	for i, r := range recs {
		if r.Status != 200 || r.BodyBytes != int64(len(bench.NginxBody)) || r.SYNData != (i > 0) {
			t.Fatalf("request %d: %+v, want 200 with nginx's body, data in the SYN after the first", i+1, r)
		}
	}
}

// TestHTTPFlagErrors: conflicting or bad flags are usage errors that say
// what is wrong.
func TestHTTPFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--http", "--tls"}, "pick one"},
		{[]string{"serve", "--http", "--early", "later"}, "want wait"},
		{[]string{"serve", "--tls", "--cert", "a.pem"}, "--cert and --key go together"},
		{[]string{"serve", "--http", "--cert-out", "c.pem"}, "need --tls"},
		{[]string{"get", "ftp://x/"}, "want http://"},
		{[]string{"get", "http://x/", "--fit-syn"}, "concern https://"},
		{[]string{"get", "http://x/", "--count", "0"}, "--count 0"},
		{[]string{"get", "http://x/", "-H", "nocolon"}, "want 'Name: value'"},
	} {
		_, stderr, code := runCLI(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("fastopen %q: exit %d\n%s\nwant a usage error containing %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestServeHTTPReject: with --early reject, a POST that rides in the SYN
// (it has an Idempotency-Key) is answered 425 and `fastopen get` sends it
// again without TFO; the handler runs once per request. Over the lab
// (RTT 40 ms): on loopback the handshake completes before the request is
// read, and nothing is early.
func TestServeHTTPReject(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 40 * time.Millisecond})
	addr := netip.AddrPortFrom(l.ServerAddr(false), 8080).String()
	logs := startServe(t, l.Server, "--addr", addr, "--http", "--early", "reject")
	recs := getRecords(t, l.Client, "http://"+addr+"/order", "-X", "POST", "-d", "x", "-H", "Idempotency-Key: k1", "--count", "2")
	if len(recs) != 2 || recs[0].Status != 200 || recs[0].Retried || recs[1].Status != 200 || !recs[1].Retried || recs[1].Reason != "retried_after_425" {
		t.Fatalf("records %+v: want the cold POST served, the warm one retried after 425", recs)
	}
	for i := range 2 {
		if l := nextLog(t, logs); l.Method != "POST" || l.InSYN {
			t.Fatalf("handler run %d: %+v, want a POST not from a SYN", i+1, l)
		}
	}
	select {
	case l := <-logs:
		t.Fatalf("a third handler run: %+v", l)
	default:
	}
}
