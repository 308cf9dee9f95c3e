package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/bench"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// binary is the fastopen command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fastopen-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fastopen")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fastopen: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveLog is one `fastopen serve --log-json` line.
type serveLog struct {
	Msg      string `json:"msg"`
	Bytes    int    `json:"bytes"`
	SYNData  bool   `json:"syn_data"`
	SYNBytes int    `json:"syn_bytes"`
	Reason   string `json:"reason"`
	Addr     string `json:"addr"`
	// Requests of --http/--tls.
	Method string `json:"method"`
	InSYN  bool   `json:"in_syn"`
}

// startJSONLog starts cmd, a fastopen command with --log-json, and reads
// its standard error on a goroutine: line gets each line, decoded into l
// when ok (the line is JSON), and end is called once the process closed
// it. The process is interrupted and waited for when the test ends.
func startJSONLog[T any](t *testing.T, cmd *lab.Cmd, line func(l T, text string, ok bool), end func()) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	go func() {
		for sc := bufio.NewScanner(stderr); sc.Scan(); {
			var l T
			ok := json.Unmarshal(sc.Bytes(), &l) == nil
			line(l, sc.Text(), ok)
		}
		end()
	}()
}

// startServe runs `fastopen serve` in h and returns a channel of its
// per-connection log lines, once it is listening.
func startServe(t *testing.T, h *lab.Host, args ...string) <-chan serveLog {
	t.Helper()
	logs := make(chan serveLog, 64)
	ready := make(chan struct{})
	startJSONLog(t, h.Command(binary, append([]string{"serve", "--log-json"}, args...)...), func(l serveLog, text string, ok bool) {
		if !ok {
			t.Logf("serve: %s", text)
			return
		}
		switch l.Msg {
		case "listening":
			close(ready)
		case "connection", "request": // echo, or --http/--tls
			logs <- l
		}
	}, func() {})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("fastopen serve did not start listening")
	}
	return logs
}

func nextLog(t *testing.T, logs <-chan serveLog) serveLog {
	t.Helper()
	select {
	case l := <-logs:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no connection logged by fastopen serve")
	}
	return serveLog{}
}

// sendRecords runs `fastopen send --json` in h.
func sendRecords(t *testing.T, h *lab.Host, args ...string) []sendRecord {
	t.Helper()
	return jsonRecords[sendRecord](t, h, "send", args...)
}

// jsonRecords runs `fastopen CMD --json ARGS...` in h and decodes its
// output, one JSON object per line.
func jsonRecords[T any](t *testing.T, h *lab.Host, cmd string, args ...string) []T {
	t.Helper()
	out, err := h.Command(binary, append([]string{cmd, "--json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("fastopen %s %q: %v", cmd, args, err)
	}
	var recs []T
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r T
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s output %q: %v", cmd, line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestServeAndSend: our client against our server, cold then warm, with the
// server's log proving the data came in the SYN.
func TestServeAndSend(t *testing.T) {
	h := labtest.Host(t, "cli", 3)
	logs := startServe(t, h, "--addr", "127.0.0.1:8000")
	recs := sendRecords(t, h, "127.0.0.1:8000", "--count", "2")
	if len(recs) != 2 || recs[0].Reply != "hello!" || recs[1].Reply != "hello!" {
		t.Fatalf("replies: %+v", recs)
	}
	if recs[0].SYNData || recs[0].FailReason != "no_cookie" || !recs[1].SYNData || recs[1].FailReason != "" {
		t.Fatalf("cold/warm records: %+v", recs)
	}
	if recs[1].ElapsedMS <= 0 {
		t.Fatalf("elapsed_ms = %v", recs[1].ElapsedMS)
	}
	if l := nextLog(t, logs); l.SYNData {
		t.Fatalf("cold connection logged with SYN data: %+v", l)
	}
	if l := nextLog(t, logs); !l.SYNData || l.SYNBytes != 6 {
		t.Fatalf("warm connection log: %+v, want 6 bytes in the SYN", l)
	}
}

// TestCurl: `curl --tcp-fastopen` against `fastopen serve`: the second
// request arrives in the SYN and the reply is the echoed request.
func TestCurl(t *testing.T) {
	curl := labtest.NeedCommand(t, "curl")
	h := labtest.Host(t, "cli", 3)
	logs := startServe(t, h, "--addr", "127.0.0.1:8000")
	for i := 0; i < 2; i++ {
		out, err := h.Command(curl, "-sS", "--http0.9", "--tcp-fastopen", "http://127.0.0.1:8000/").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		if !strings.HasPrefix(string(out), "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n") {
			t.Fatalf("curl printed %q, want its own request echoed", out)
		}
		l := nextLog(t, logs)
		if want := i == 1; l.SYNData != want || want && l.SYNBytes != len(out) {
			t.Fatalf("curl request %d: log %+v, want syn_data=%v with the whole %d-byte request", i+1, l, want, len(out))
		}
	}
}

// TestNginx: `fastopen send` against nginx listening with fastopen=N: the
// HTTP request rides in the SYN and nginx's reply is printed.
func TestNginx(t *testing.T) {
	h := labtest.Host(t, "cli", 3)
	nginxAddr := netip.MustParseAddrPort("127.0.0.1:8080")
	labtest.StartNginx(t, h, nginxAddr, func(dir string) string { return bench.NginxConfig(dir, nginxAddr, 16) })
	recs := sendRecords(t, h, "127.0.0.1:8080", "--count", "3", "--data", `GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)
	for i, r := range recs {
		if !strings.HasPrefix(r.Reply, "HTTP/1.1 200 OK") || !strings.HasSuffix(r.Reply, bench.NginxBody) {
			t.Fatalf("reply %d: %q", i+1, r.Reply)
		}
	}
	if recs[0].SYNData || !recs[1].SYNData || !recs[2].SYNData {
		t.Fatalf("syn_data = %v %v %v, want false true true", recs[0].SYNData, recs[1].SYNData, recs[2].SYNData)
	}
}

// TestPythonSeed: the walkthrough's programs (ported to Python 3) against
// ours in both directions, with TFO proven on our side of each.
func TestPythonSeed(t *testing.T) {
	py := labtest.NeedCommand(t, "python3")
	scripts, err := filepath.Abs("../../examples/seed")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("python client, fastopen serve", func(t *testing.T) {
		h := labtest.Host(t, "py", 3)
		logs := startServe(t, h, "--addr", "127.0.0.1:8000")
		for i := 0; i < 2; i++ {
			out, err := h.Command(py, filepath.Join(scripts, "client.py"), "127.0.0.1").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "hello!" {
				t.Fatalf("client.py: %q, %v", out, err)
			}
			if l := nextLog(t, logs); l.SYNData != (i == 1) {
				t.Fatalf("python client connection %d: %+v, want syn_data=%v", i+1, l, i == 1)
			}
		}
	})
	t.Run("fastopen send, python server", func(t *testing.T) {
		h := labtest.Host(t, "py", 3)
		cmd := h.Command(py, filepath.Join(scripts, "server.py"), "--host", "127.0.0.1", "--port", "8000")
		cmd.Stdout = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		labtest.WaitAccepting(t, h, "127.0.0.1:8000", nil, "server.py", nil)
		recs := sendRecords(t, h, "127.0.0.1:8000", "--count", "2")
		if recs[0].Reply != "hello!" || recs[1].Reply != "hello!" || recs[0].SYNData || !recs[1].SYNData {
			t.Fatalf("records: %+v", recs)
		}
	})
}

// TestSendErrors: bad input and unreachable servers give clear errors and a
// non-zero exit status.
func TestSendErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"send"}, 2, "want exactly one address"},
		{[]string{"send", "nohost"}, 2, "want host:port"},
		{[]string{"send", "127.0.0.1:1", "--data", `\q`}, 2, "unknown escape"},
		{[]string{"send", "127.0.0.1:1", "--count", "0"}, 2, "--count must be at least 1"},
		{[]string{"send", "127.0.0.1:1", "--data-file", "/nonexistent"}, 1, "no such file"},
		{[]string{"serve", "--addr", "127.0.0.1:x"}, 2, "not a valid port"},
		{[]string{"nosuchcommand"}, 2, "unknown command"},
	} {
		cmd := exec.Command(binary, tc.args...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("fastopen %q: exit %d, output %q; want exit %d mentioning %q", tc.args, code, out, tc.code, tc.want)
		}
	}
	h := labtest.Host(t, "cli", 3)
	out, err := h.Command(binary, "send", "127.0.0.1:9").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "connection refused") {
		t.Fatalf("send to a closed port: %q, %v", out, err)
	}
	startServe(t, h, "--addr", "127.0.0.1:8000")
	out, err = h.Command(binary, "serve", "--addr", "127.0.0.1:8000").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already in use") {
		t.Fatalf("second serve on the same port: %q, %v", out, err)
	}
}
