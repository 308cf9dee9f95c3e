//go:build linux

package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// relayLog is one `fastopen relay --log-json` line.
type relayLog struct {
	Msg     string `json:"msg"`
	Listen  string `json:"listen"`
	URL     string `json:"url"`
	Flight  int    `json:"first_flight"`
	BytesUp int    `json:"bytes_up"`
	In      struct {
		SYNData bool `json:"syn_data"`
	} `json:"in"`
	Out struct {
		SYNData bool   `json:"syn_data"`
		Reason  string `json:"reason"`
	} `json:"out"`
	Error string `json:"error"`
}

// startRelay runs `fastopen relay` in h and returns its connection log
// lines and, with --metrics, the metrics URL, once it is listening.
func startRelay(t *testing.T, h *lab.Host, args ...string) (<-chan relayLog, string) {
	t.Helper()
	logs := make(chan relayLog, 64)
	ready := make(chan string, 1)
	var url string
	startJSONLog(t, h.Command(binary, append([]string{"relay", "--log-json"}, args...)...), func(l relayLog, _ string, ok bool) {
		if !ok {
			return
		}
		switch l.Msg {
		case "metrics":
			url = l.URL
		case "relaying":
			ready <- url
		case "connection":
			logs <- l
		}
	}, func() { close(ready) })
	select {
	case url, ok := <-ready:
		if !ok {
			t.Fatalf("fastopen relay %q exited before listening", args)
		}
		return logs, url
	case <-time.After(10 * time.Second):
		t.Fatalf("fastopen relay %q did not start", args)
	}
	return nil, ""
}

// TestRelayCommand: `fastopen send --plain` → `fastopen relay --tfo dial`
// → `fastopen relay --tfo listen --early forward` → `fastopen serve`: the
// echo comes back, the second connection's request rode in the SYN
// between the relays (both relays' logs), and the client relay's metrics
// count it.
func TestRelayCommand(t *testing.T) {
	h := labtest.Host(t, "relaycli", 3)
	startServe(t, h, "--addr", "127.0.0.1:8000", "--plain")
	slogs, _ := startRelay(t, h, "--listen", "127.0.0.1:9000", "--to", "127.0.0.1:8000", "--tfo", "listen", "--early", "forward")
	clogs, murl := startRelay(t, h, "--listen", "127.0.0.1:7000", "--to", "127.0.0.1:9000", "--tfo", "dial", "--metrics", "127.0.0.1:0")
	recs := sendRecords(t, h, "127.0.0.1:7000", "--count", "2", "--plain")
	if len(recs) != 2 || recs[0].Reply != "hello!" || recs[1].Reply != "hello!" {
		t.Fatalf("replies through the relays: %+v", recs)
	}
	next := func(ch <-chan relayLog) relayLog {
		select {
		case l := <-ch:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no connection logged")
		}
		return relayLog{}
	}
	for i := range 2 {
		c, s := next(clogs), next(slogs)
		if c.Error != "" || s.Error != "" || c.Flight != len("hello!") || c.Out.SYNData != (i == 1) || s.In.SYNData != (i == 1) {
			t.Fatalf("connection %d: client relay %+v, server relay %+v; want syn_data=%v on the link between them", i+1, c, s, i == 1)
		}
	}
	// The metrics listen on the namespace's loopback: scrape from there.
	body, err := h.Command(labtest.NeedCommand(t, "curl"), "-sS", "--max-time", "5", murl).Output()
	if err != nil {
		t.Fatalf("scrape %s: %v", murl, err)
	}
	for _, want := range []string{
		`fastopen_relay_connections_total{leg="out",syn_data="true"} 1`,
		`fastopen_relay_connections_total{leg="out",syn_data="false"} 1`,
		`fastopen_relay_bytes_total{direction="up"} 12`,
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenActive"} 1`,
		"go_goroutines ", "process_open_fds ", // the runtime's and the process's own, as serve's
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestRelayUsage: bad flags are usage errors (exit 2) that say what is
// wrong.
func TestRelayUsage(t *testing.T) {
	free := func() string { // a port free now, for the loop cases
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	p1, p2, p3 := free(), free(), free()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:7000"}, "--listen and --to are both required"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", ":80"}, "has no host"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--early", "soon"}, "want forward"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--tfo", "dial", "--trusted-link", "listen"}, "needs TFO on that side"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--trusted-link", "yes"}, "want listen, dial or both"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--first-size", "0"}, "--first-size"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--metrics", "nowhere"}, "--metrics"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--max-conns", "100000000"}, "want at most 1048576"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--idle", "5000h"}, "want at most 24h0m0s each"},
		{[]string{"--listen", "127.0.0.1:7000", "--to", "127.0.0.1:80", "--grace", "25h"}, "want at most 24h0m0s each"},
		// A --to that leads back to the listener itself: a loop.
		{[]string{"--listen", "127.0.0.1:" + p1, "--to", "127.0.0.1:" + p1, "--tfo", "none"}, "leads back to this relay's own listener"},
		{[]string{"--listen", ":" + p2, "--to", "localhost:" + p2, "--tfo", "none"}, "leads back to this relay's own listener"},
		{[]string{"--listen", "127.0.0.1:" + p3, "--to", "0.0.0.0:" + p3, "--tfo", "none"}, "leads back to this relay's own listener"},
	} {
		_, stderr, code := runCLIWithin(t, 10*time.Second, append([]string{"relay"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("relay %q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
