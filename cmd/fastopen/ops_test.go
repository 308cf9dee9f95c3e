package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/key"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/sysctl"
)

// exitCode runs cmd and returns its exit status and combined output.
func exitCode(t *testing.T, run func() ([]byte, error)) (int, string) {
	t.Helper()
	out, err := run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run: %v", err)
	return 0, ""
}

// TestOpsUsageErrors: bad input to the operations commands exits 2 (or 1
// for bad files) with a message that names the problem; a bad --metrics
// address is refused before `fastopen serve` starts listening.
func TestOpsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := write("secret", "0123456789abcdef0123456789abcdef\n", 0o600)
	short := write("short", "only15bytes....\n", 0o600)
	open := write("open", "0123456789abcdef0123456789abcdef\n", 0o644)
	out := filepath.Join(dir, "out.key")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"enable", "servr"}, 2, `unknown TFO role "servr"`},
		{[]string{"disable", "client", "server"}, 2, "one role at most"},
		{[]string{"check", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"stats", "--watch", "1ms"}, 2, "at least 10ms"},
		{[]string{"stats", "--watch", "-1s"}, 2, "at least 10ms"},
		{[]string{"cookies", "flush", "10.0.0"}, 2, `"10.0.0" is not an IP address`},
		{[]string{"cookies", "flush", "::1", "::2"}, 2, "at most one destination"},
		{[]string{"cookies", "purge"}, 2, `unknown subcommand "purge"`},
		{[]string{"key"}, 2, "missing subcommand"},
		{[]string{"key", "new", "x"}, 2, "takes no arguments"},
		{[]string{"key", "check", filepath.Join(dir, "nope")}, 1, "does not exist"},
		{[]string{"key", "rotate", "--key-file", out}, 2, "needs --secret-file"},
		{[]string{"key", "rotate", "--secret-file", secret}, 2, "needs a target"},
		{[]string{"key", "rotate", "--secret-file", secret, "--key-file", out, "--interval", "0s"}, 2, "too short"},
		{[]string{"key", "rotate", "--secret-file", secret, "--key-file", out, "--interval", "-24h"}, 2, "too short"},
		{[]string{"key", "rotate", "--secret-file", short, "--key-file", out}, 1, "want at least 16"},
		{[]string{"key", "rotate", "--secret-file", open, "--key-file", out}, 1, "world-readable"},
	} {
		code, msg := exitCode(t, exec.Command(binary, tc.args...).CombinedOutput)
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("fastopen %q: exit %d, output %q; want exit %d mentioning %q", tc.args, code, msg, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused key rotate wrote its key file")
	}

	h := labtest.Host(t, "opsflags", 3)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics", "nohost"}, "want host:port"},
		{[]string{"--metrics", "127.0.0.1:99999"}, "not a valid port"},
	} {
		args := append([]string{"serve", "--addr", "127.0.0.1:8000"}, tc.args...)
		code, msg := exitCode(t, h.Command(binary, args...).CombinedOutput)
		if code != 2 || !strings.Contains(msg, tc.want) || strings.Contains(msg, "listening") {
			t.Errorf("fastopen %q: exit %d, output %q; want exit 2 mentioning %q before listening", args, code, msg, tc.want)
		}
	}

	// Flag placeholders: text in backquotes becomes the value's name.
	help, _ := exec.Command(binary, "serve", "--help").CombinedOutput()
	for _, want := range []string{"-key-file FILE", "-metrics ADDR"} {
		if !strings.Contains(string(help), want) {
			t.Errorf("serve --help lacks %q:\n%s", want, help)
		}
	}
	help, _ = exec.Command(binary, "key", "--help").CombinedOutput()
	for _, want := range []string{"-key-file FILE", "-secret-file FILE"} {
		if !strings.Contains(string(help), want) {
			t.Errorf("key --help lacks %q:\n%s", want, help)
		}
	}
}

// opsServer is a `fastopen serve --log-json` process and its log.
type opsServer struct {
	cmd  *lab.Cmd
	logs chan map[string]any
	seen []map[string]any // lines read while waiting for another message
	// listening is the "listening" line.
	listening map[string]any
}

// startOpsServe runs `fastopen serve --log-json args...` in h and waits
// until it listens.
func startOpsServe(t *testing.T, h *lab.Host, args ...string) *opsServer {
	t.Helper()
	return startServeCmd(t, h.Command(binary, append([]string{"serve", "--log-json"}, args...)...))
}

// startServeCmd starts cmd, a `fastopen serve --log-json ...` (perhaps
// behind a wrapper), and waits until it listens.
func startServeCmd(t *testing.T, cmd *lab.Cmd) *opsServer {
	t.Helper()
	s := &opsServer{cmd: cmd, logs: make(chan map[string]any, 256)}
	startJSONLog(t, cmd, func(l map[string]any, text string, ok bool) {
		if !ok {
			l = map[string]any{"msg": "text", "text": text}
		}
		s.logs <- l
	}, func() { close(s.logs) })
	s.listening = s.wait(t, "listening")
	return s
}

// wait returns the first log line with message msg not returned before;
// lines with other messages are kept for later waits, so the order in
// which serve logs its start-up lines does not matter.
func (s *opsServer) wait(t *testing.T, msg string) map[string]any {
	t.Helper()
	for i, l := range s.seen {
		if l["msg"] == msg {
			s.seen = append(s.seen[:i], s.seen[i+1:]...)
			return l
		}
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-s.logs:
			if !ok {
				t.Fatalf("fastopen serve ended before logging %q", msg)
			}
			if l["msg"] == msg {
				return l
			}
			s.seen = append(s.seen, l)
		case <-timeout:
			t.Fatalf("fastopen serve did not log %q", msg)
		}
	}
}

// metricSample matches one sample line of the Prometheus text format.
var metricSample = regexp.MustCompile(`(?m)^(fastopen_[^ ]+) ([0-9.e+-]+)$`)

// scrapeMetrics reads url from inside h, where the server listens. The
// connection is dialled on h's thread (net/http would dial from another
// goroutine, in another namespace) and the request sent over it.
func scrapeMetrics(t *testing.T, h *lab.Host, url string) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	for _, m := range metricSample.FindAllStringSubmatch(scrapeText(t, h, url), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		got[m[1]] = v
	}
	return got
}

// scrapeText returns the body of a scrape of url from inside h.
func scrapeText(t *testing.T, h *lab.Host, url string) string {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/metrics")
	c := labtest.Dial(t, h, &net.Dialer{Timeout: 5 * time.Second}, "tcp", addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s, %v\n%s", url, resp.Status, err, body)
	}
	return string(body)
}

// TestServeKeyFileLifecycle runs `fastopen serve --key-file --metrics
// 127.0.0.1:0` on a Kubernetes-style Secret volume (the key file is a
// symlink through ..data) and walks the key through a Secret update, a
// SIGHUP in the middle of a non-atomic write, a world-readable file and a
// deleted one. Each good key is proven in effect through TFO itself (which
// cookies the server accepts, its TCPFastOpenPassiveAltKey counter); each
// bad one leaves the previous key serving. The metrics port is learned
// from the log and the scrape agrees.
func TestServeKeyFileLifecycle(t *testing.T) {
	h := labtest.Host(t, "opskey", 3)
	k1, _ := fastopen.NewKey()
	k2, _ := fastopen.NewKey()
	k3, _ := fastopen.NewKey()
	vol := t.TempDir()
	// A Secret volume: ..v1/tfo.key, ..data -> ..v1, tfo.key -> ..data/tfo.key.
	version := func(name, content string) {
		if err := os.Mkdir(filepath.Join(vol, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vol, name, "tfo.key"), []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	swap := func(name string) { // as the kubelet does: new symlink renamed over ..data
		tmp := filepath.Join(vol, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", k1.String()+"\r\n") // CRLF from a Windows editor
	if err := os.Symlink("..v1", filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(vol, "tfo.key")
	if err := os.Symlink("..data/tfo.key", keyFile); err != nil {
		t.Fatal(err)
	}

	s := startOpsServe(t, h, "--addr", "127.0.0.1:8000", "--key-file", keyFile, "--metrics", "127.0.0.1:0")
	url, _ := s.wait(t, "metrics")["url"].(string)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[1-9][0-9]*/metrics$`).MatchString(url) {
		t.Fatalf("metrics URL %q does not name the bound port", url)
	}
	if l := s.wait(t, "TFO key loaded"); l["backup"] != false {
		t.Fatalf("initial load: %v", l)
	}
	send := func() sendRecord {
		t.Helper()
		recs := sendRecords(t, h, "127.0.0.1:8000")
		if len(recs) != 1 || recs[0].Reply != "hello!" {
			t.Fatalf("send: %+v", recs)
		}
		return recs[0]
	}
	if send().SYNData || !send().SYNData {
		t.Fatal("cold then warm connection: want SYN data on the second only")
	}

	// Secret update: [k2, k1]. The client's k1 cookie is accepted through
	// the backup key, which proves k1 was the listener's key.
	version("..v2", k2.String()+"\n"+k1.String()+"\n")
	swap("..v2")
	if l := s.wait(t, "TFO key loaded"); l["backup"] != true {
		t.Fatalf("after the ..data swap: %v, want a backup key", l)
	}
	before := scrapeMetrics(t, h, url)
	if !send().SYNData {
		t.Fatal("a cookie of the previous key was refused although it is the backup key")
	}
	altKey := `fastopen_kernel_tcpext_total{counter="TCPFastOpenPassiveAltKey"}`
	if d := scrapeMetrics(t, h, url)[altKey] - before[altKey]; d != 1 {
		t.Fatalf("TCPFastOpenPassiveAltKey +%v, want +1", d)
	}

	// SIGHUP while a non-atomic writer has written half a key: refused,
	// k2 stays (the client's renewed cookie is k2's).
	path := filepath.Join(vol, "..v2", "tfo.key")
	if err := os.WriteFile(path, []byte(k3.String()[:20]), 0o400); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	if l := s.wait(t, "TFO key file not loaded; keeping the previous key"); !strings.Contains(l["err"].(string), "wrong TFO key length") {
		t.Fatalf("half-written file: %v", l)
	}
	if !send().SYNData {
		t.Fatal("after a refused half-written file the server no longer holds its previous key")
	}
	// The writer finishes; the watcher notices by itself.
	if err := os.WriteFile(path, []byte(k3.String()+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	s.wait(t, "TFO key loaded")
	if r := send(); r.SYNData || !r.SentInSYN {
		t.Fatalf("k2 cookie after the switch to k3 alone: %+v, want SYN data sent and refused", r)
	}
	if !send().SYNData {
		t.Fatal("the cookie issued under k3 was refused")
	}

	// World-readable, then deleted: each refused, k3 keeps serving.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if l := s.wait(t, "TFO key file not loaded; keeping the previous key"); !strings.Contains(l["err"].(string), "world-readable") {
		t.Fatalf("chmod 644: %v", l)
	}
	if !send().SYNData {
		t.Fatal("a world-readable file changed the key")
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if l := s.wait(t, "TFO key file not loaded; keeping the previous key"); !strings.Contains(l["err"].(string), "does not exist") {
		t.Fatalf("deleted: %v", l)
	}
	if !send().SYNData {
		t.Fatal("a deleted file changed the key")
	}
	// Recreated by a rename (Vault agent) with the same key: loaded again.
	if err := key.WriteKeyFile(keyFile, k3, nil); err != nil {
		t.Fatal(err)
	}
	s.wait(t, "TFO key loaded")
	if !send().SYNData {
		t.Fatal("the recreated file's key is not the one the cookie was made with")
	}

	m := scrapeMetrics(t, h, url)
	for name, want := range map[string]float64{
		`fastopen_key_loads_total{result="ok"}`:                          4, // start, swap, k3, recreated
		`fastopen_key_loads_total{result="error"}`:                       3, // half-written, world-readable, deleted
		`fastopen_server_connections_total{syn_data="true"}`:             7,
		`fastopen_server_connections_total{syn_data="false"}`:            2,
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassive"}`:     7,
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassiveFail"}`: 1,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
}

// TestCheckCLI: `fastopen check` in a namespace exits with the documented
// status for each sysctl value, in text and JSON, and the JSON has the
// documented fields.
func TestCheckCLI(t *testing.T) {
	for _, tc := range []struct {
		mode, code     int
		client, server bool
		advice         string
	}{
		{0, 11, false, false, "fastopen enable both"},
		{1, 10, true, false, "fastopen enable server"},
		{2, 9, false, true, "fastopen enable client"},
		{3, 0, true, true, "nothing to change"},
		{0x207, 0, true, true, "bit 0x4"},
	} {
		h := labtest.Host(t, "opscheck", tc.mode)
		if tc.mode == 3 { // a key, so that the advice has nothing to add
			k, _ := fastopen.NewKey()
			labtest.Run(t, h, func() error { return key.SetSysctlKey(k, nil) })
		}
		code, out := exitCode(t, h.Command(binary, "check").Output)
		if code != tc.code || !strings.Contains(out, tc.advice) {
			t.Errorf("mode %#x: check exit %d, want %d, advice mentioning %q:\n%s", tc.mode, code, tc.code, tc.advice, out)
		}
		code, out = exitCode(t, h.Command(binary, "check", "--json").Output)
		var r struct {
			Sysctl *int     `json:"sysctl"`
			Client *bool    `json:"client"`
			Server *bool    `json:"server"`
			Advice []string `json:"advice"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("mode %#x: check --json output %q: %v", tc.mode, out, err)
		}
		if code != tc.code || r.Sysctl == nil || *r.Sysctl != tc.mode || r.Client == nil || *r.Client != tc.client ||
			r.Server == nil || *r.Server != tc.server || !strings.Contains(strings.Join(r.Advice, "\n"), tc.advice) {
			t.Errorf("mode %#x: check --json exit %d: %s", tc.mode, code, out)
		}
	}
}

// TestEnableCLIPersist: enable and disable change only their namespace's
// sysctl, and the --persist file is one `sysctl -p` applies.
func TestEnableCLIPersist(t *testing.T) {
	sysctlCmd := labtest.NeedCommand(t, "sysctl")
	hostBefore, err := sysctl.FastOpenMode()
	if err != nil {
		t.Fatal(err)
	}
	h := labtest.Host(t, "opsenable", 0)
	conf := filepath.Join(t.TempDir(), "60-fastopen.conf")
	out, err := h.Command(binary, "enable", "server", "--persist", "--persist-file", conf, "--json").Output()
	if err != nil {
		t.Fatalf("enable server: %v", err)
	}
	var c struct {
		Namespace     kernel.Namespace `json:"namespace"`
		Before, After int
		Persisted     string `json:"persisted"`
	}
	if err := json.Unmarshal(out, &c); err != nil || c.Before != 0 || c.After != 2 || c.Namespace.Name != h.NS || c.Persisted != conf {
		t.Fatalf("enable server --json: %s (%v)", out, err)
	}
	if v, _ := h.Sysctl(sysctl.FastOpen); v != "2" {
		t.Fatalf("namespace sysctl %s after enable server, want 2", v)
	}
	// The persisted file, applied in a fresh namespace, gives the same value.
	fresh := labtest.Host(t, "opspersist", 0)
	if out, err := fresh.Command(sysctlCmd, "-p", conf).CombinedOutput(); err != nil {
		t.Fatalf("sysctl -p %s: %v\n%s", conf, err, out)
	}
	if v, _ := fresh.Sysctl(sysctl.FastOpen); v != "2" {
		t.Fatalf("sysctl -p of the persisted file set %s, want 2", v)
	}
	if out, err := h.Command(binary, "disable", "server").CombinedOutput(); err != nil || !strings.Contains(string(out), "0x2 (server) -> 0x0 (off)") {
		t.Fatalf("disable server: %v\n%s", err, out)
	}
	// A sysctl.d directory that does not exist yet is created; one that
	// cannot be made fails with the reason and the running setting, which
	// the change printed first already showed.
	missing := filepath.Join(t.TempDir(), "sysctl.d", "60-fastopen.conf")
	if out, err := h.Command(binary, "enable", "client", "--persist", "--persist-file", missing).CombinedOutput(); err != nil {
		t.Fatalf("enable client --persist into a missing sysctl.d: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(missing); err != nil || !strings.Contains(string(b), sysctl.FastOpen+" = 1") {
		t.Fatalf("persisted file %q (%v), want %s = 1", b, err, sysctl.FastOpen)
	}
	unwritable := filepath.Join(t.TempDir(), "no", "such", "60-fastopen.conf")
	code, msg := exitCode(t, h.Command(binary, "enable", "server", "--persist", "--persist-file", unwritable).CombinedOutput)
	if code != 1 || !strings.Contains(msg, "0x1 (client) -> 0x3 (client+server)") || !strings.Contains(msg, "cannot write "+unwritable) ||
		!strings.Contains(msg, "the running setting was changed to 0x3") || strings.Contains(msg, ".tmp") {
		t.Errorf("enable server --persist into an impossible path: exit %d:\n%s", code, msg)
	}
	code, msg = exitCode(t, h.Command(binary, "enable", "server", "--persist", "--persist-file", unwritable).CombinedOutput)
	if code != 1 || !strings.Contains(msg, "the running setting is 0x3 (client+server), unchanged") {
		t.Errorf("enable server --persist, nothing to change, impossible path: exit %d:\n%s", code, msg)
	}
	if hostAfter, _ := sysctl.FastOpenMode(); hostAfter != hostBefore {
		sysctl.SetFastOpenMode(hostBefore)
		t.Fatalf("the host's %s changed from %#x to %#x (restored)", sysctl.FastOpen, int(hostBefore), int(hostAfter))
	}
}

// TestCookiesCLIIPv6: `fastopen cookies` lists the cookie of an IPv6
// server, flushes it (the next connection is cold) and says so when
// nothing is left to flush.
func TestCookiesCLIIPv6(t *testing.T) {
	h := labtest.Host(t, "opscookies", 3)
	startServe(t, h, "--addr", "[::1]:8000")
	if recs := sendRecords(t, h, "[::1]:8000", "--count", "2"); len(recs) != 2 || !recs[1].SYNData {
		t.Fatalf("warm-up over IPv6: %+v", recs)
	}
	list := func() []cookie.Cookie {
		t.Helper()
		out, err := h.Command(binary, "cookies", "list", "--json").Output()
		if err != nil {
			t.Fatalf("cookies list: %v", err)
		}
		var cs []cookie.Cookie
		if err := json.Unmarshal(out, &cs); err != nil {
			t.Fatalf("cookies list --json %q: %v", out, err)
		}
		return cs
	}
	cs := list()
	if len(cs) != 1 || cs[0].Dest.String() != "::1" || len(cs[0].CookieHex) != 16 {
		t.Fatalf("cookies %+v, want one 8-byte cookie for ::1", cs)
	}
	if out, err := h.Command(binary, "cookies", "flush", "::1").CombinedOutput(); err != nil || !strings.Contains(string(out), "flushed") {
		t.Fatalf("cookies flush ::1: %v\n%s", err, out)
	}
	if cs := list(); len(cs) != 0 {
		t.Fatalf("after flush: %+v", cs)
	}
	code, out := exitCode(t, h.Command(binary, "cookies", "flush", "::1").CombinedOutput)
	if code != 1 || !strings.Contains(out, "nothing cached for ::1") {
		t.Fatalf("second flush: exit %d, %q", code, out)
	}
	if recs := sendRecords(t, h, "[::1]:8000"); recs[0].SYNData || recs[0].HadCookie {
		t.Fatalf("after flush the connection still used a cookie: %+v", recs[0])
	}
}

// TestKeyRotateDaemon: `key rotate --daemon` writes this interval's keys
// (as derived from the secret) to the key file and stops with exit 0 on
// SIGTERM.
func TestKeyRotateDaemon(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("c2hhcmVkIGJ5IHRoZSB3aG9sZSBmbGVldA==\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "tfo.key")
	cmd := exec.Command(binary, "key", "rotate", "--secret-file", secret, "--key-file", keyFile, "--daemon")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var p fastopen.Key
	var b *fastopen.Key
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if p, b, err = key.LoadKeyFile(keyFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no key file written: %v\n%s", err, stderr.String())
		}
	}
	r := key.Rotation{Secret: []byte("c2hhcmVkIGJ5IHRoZSB3aG9sZSBmbGVldA=="), Interval: 24 * time.Hour}
	match := false
	for _, at := range []time.Time{start, time.Now()} { // a half-interval change may fall in between
		wp, wb := r.Keys(at)
		match = match || b != nil && p == wp && *b == wb
	}
	if !match {
		t.Fatal("the key file does not hold Keys(now) of the secret (with its CRLF trimmed)")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("key rotate --daemon after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("key rotate --daemon ignored SIGTERM")
	}
}

// TestStatsCLI: `stats --json` is one JSON object with every TFO counter;
// `stats --watch --json` prints deltas that follow traffic and stops with
// exit 0 on SIGTERM.
func TestStatsCLI(t *testing.T) {
	h := labtest.Host(t, "opsstats", 3)
	type sample struct {
		Counters []kernel.CounterValue `json:"counters"`
		Delta    map[string]uint64     `json:"delta"`
	}
	out, err := h.Command(binary, "stats", "--json").Output()
	var s sample
	if err != nil || json.Unmarshal(out, &s) != nil || len(s.Counters) < 8 {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}
	for _, c := range s.Counters {
		if c.Meaning == "" || !strings.HasPrefix(c.Name, "TCPFastOpen") {
			t.Errorf("counter %+v: want a TCPFastOpen* name with a meaning", c)
		}
	}
	cmd := h.Command(binary, "stats", "--watch", "100ms", "--json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	startServe(t, h, "--addr", "127.0.0.1:8000")
	sendRecords(t, h, "127.0.0.1:8000", "--count", "2")
	var passive uint64
	for deadline := time.Now().Add(5 * time.Second); passive == 0 && time.Now().Before(deadline) && sc.Scan(); {
		var s sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("stats --watch --json line %q: %v", sc.Text(), err)
		}
		passive += s.Delta["TCPFastOpenPassive"]
	}
	if passive != 1 {
		t.Fatalf("TCPFastOpenPassive deltas add up to %d, want 1", passive)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stats --watch after SIGTERM: %v", err)
	}
}

// TestBenchFlagErrors: bench refuses, before measuring anything, values
// it would fail on only after the run (a NaN loss rate cannot be printed
// as JSON) and flags that the chosen mode would silently ignore.
func TestBenchFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--loss", "NaN", "--json"}, `"NaN" is not a loss rate`},
		{[]string{"bench", "--rtt", "1h"}, "up to 10s"},
		{[]string{"bench", "--mode", "rate", "--csv"}, "--csv does not apply to --mode rate"},
		{[]string{"bench", "--mode", "rate", "--out", t.TempDir()}, "--out does not apply to --mode rate"},
		{[]string{"bench", "--mode", "rate", "--rtt", "10ms"}, "--rtt does not apply to --mode rate"},
		{[]string{"bench", "--duration", "1s"}, "--duration does not apply to --mode latency"},
		{[]string{"demo", "--rtt", "11s"}, "between 1ms and 10s"},
	} {
		code, msg := exitCode(t, exec.Command(binary, tc.args...).CombinedOutput)
		if code != 2 || !strings.Contains(msg, tc.want) {
			t.Errorf("fastopen %q: exit %d, output %q; want exit 2 mentioning %q", tc.args, code, msg, tc.want)
		}
	}
}
