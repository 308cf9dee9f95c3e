//go:build linux

package main

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// TestProbeCLI: `fastopen probe` exits 0 when TFO works and 3 when the
// server offers none, prints JSON with --json, and refuses bad input with
// status 2 before probing anything.
func TestProbeCLI(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe"}, "want exactly one target"},
		{[]string{"probe", "example.com"}, "want host:port"},
		{[]string{"probe", "example.com:0"}, "not a number from 1 to 65535"},
		{[]string{"probe", "bad host:80"}, "not a valid host name"},
		{[]string{"probe", "example.com:80", "--as", "smtp"}, `unknown first flight "smtp"`},
		{[]string{"probe", "example.com:80", "--count", "0"}, "--count 0: want 1 to 20"},
		{[]string{"probe", "example.com:80", "--timeout", "2h"}, "at most 1m0s"},
		{[]string{"probe", "example.com:80", "--serve", "127.0.0.1:0"}, "--serve takes no target"},
		{[]string{"probe", "--serve", "127.0.0.1:0", "--max-concurrent", "0"}, "want 1-64"},
	} {
		_, stderr, code := runCLI(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("fastopen %q: status %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}

	l := labtest.Lab(t, lab.Config{RTT: 10 * time.Millisecond})
	srv := l.ServerAddr(false)
	for port, lc := range map[uint16]*fastopen.ListenConfig{8000: {}, 8001: {Disable: true}} {
		ln := labtest.Listen(t, l.Server, lc, "tcp", netip.AddrPortFrom(srv, port).String())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func(ln net.Listener) { (&echo.Server{}).Serve(ctx, ln); close(done) }(ln)
		t.Cleanup(func() { cancel(); <-done })
	}
	for _, tc := range []struct {
		port    uint16
		code    int
		verdict string
	}{{8000, 0, "works"}, {8001, 3, "no_cookie"}} {
		target := netip.AddrPortFrom(srv, tc.port).String()
		code, out := exitCode(t, l.Client.Command(binary, "probe", target, "--json", "--count", "2").Output)
		var r struct {
			Overall   string `json:"overall"`
			Addresses []struct {
				Verdict string `json:"verdict"`
				Conns   []struct {
					SYNData bool `json:"syn_data"`
				} `json:"conns"`
			} `json:"addresses"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("probe %s --json: %v\n%s", target, err, out)
		}
		if code != tc.code || r.Overall != tc.verdict || len(r.Addresses) != 1 || r.Addresses[0].Verdict != tc.verdict {
			t.Errorf("probe %s: status %d, overall %q; want %d and %q\n%s", target, code, r.Overall, tc.code, tc.verdict, out)
		}
	}
	code, out := exitCode(t, l.Client.Command(binary, "probe", netip.AddrPortFrom(srv, 8000).String(), "--count", "1").CombinedOutput)
	if code != 0 || !strings.Contains(out, "ADDRESS") || !strings.Contains(out, "data in the SYN, acknowledged") {
		t.Errorf("probe table: status %d\n%s", code, out)
	}
}
