//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// runCLI runs the fastopen binary with env added to the environment and
// returns its standard output, standard error and exit status.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("fastopen %q: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestBadInput: every kind of bad input is named in the error and exits
// with status 2, before anything runs.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--rtt", "10"}, "want a duration with a unit"},
		{[]string{"demo", "--rtt", "-5ms"}, "between 1ms and 10s"},
		{[]string{"send", "127.0.0.1:1", "--count", "x"}, "want a whole number"},
		{[]string{"send", "127.0.0.1:1", "--timeout", "0s"}, "want a positive timeout"},
		{[]string{"send", "127.0.0.1:1", "--interval", "-1s"}, "interval of 0 or more"},
		{[]string{"send", "--bogus", "127.0.0.1:1"}, "flag provided but not defined: -bogus"},
		{[]string{"bench", "--runs", "-1"}, "want at least 1"},
		{[]string{"bench", "--loss", "2"}, "not a loss rate"},
		{[]string{"bench", "--rtt", "10"}, "not a positive duration"},
		{[]string{"bench", "--size", "-5"}, "not a size"},
		{[]string{"bench", "--client", "foo"}, `unknown client "foo"`},
		{[]string{"lab"}, "missing subcommand"},
		{[]string{"lab", "bogus"}, `unknown subcommand "bogus"`},
		{[]string{"lab", "up", "--loss", "2"}, "loss 2 is not a probability"},
		{[]string{"lab", "up", "--loss", "1x"}, "want a number"},
		{[]string{"lab", "up", "--rtt", "-1s"}, "RTT -1s is negative"},
		{[]string{"lab", "up", "--detach", "--mtu", "10"}, "MTU 10 out of range"},
		{[]string{"lab", "up", "--fault", "nosuch"}, `unknown fault "nosuch"`},
		{[]string{"lab", "up", "--client-tfo", "-1"}, "net.ipv4.tcp_fastopen values"},
		{[]string{"lab", "status", "extra"}, `unexpected argument "extra"`},
		{[]string{"lab", "exec", "client"}, "missing command"},
		{[]string{"lab", "exec", "client", "--"}, "missing command"},
		{[]string{"lab", "exec", "router", "--", "true"}, `unknown host "router"`},
		{[]string{"trace"}, "give an interface"},
		{[]string{"trace", "-i", "lo", "--port", "70000"}, "not a TCP port"},
		{[]string{"trace", "-i", "lo", "--duration", "5"}, "want a duration with a unit"},
		{[]string{"version", "extra"}, "takes no arguments"},
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
		{nil, "usage:"},
	} {
		stdout, stderr, code := runCLI(t, []string{lab.StateDirEnv + "=" + t.TempDir()}, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "panic") {
			t.Errorf("fastopen %q: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("fastopen %q printed %q on standard output", tc.args, stdout)
		}
	}
}

// TestHelp: help goes to standard output with exit status 0, for every
// command and each lab subcommand, which lists only its own flags.
func TestHelp(t *testing.T) {
	stdout, _, code := runCLI(t, nil, "help")
	if code != 0 || !strings.Contains(stdout, "commands:") {
		t.Fatalf("fastopen help: exit %d, stdout %q", code, stdout)
	}
	for _, name := range []string{"serve", "send", "demo", "bench", "lab", "trace", "check", "stats", "version"} {
		for _, args := range [][]string{{name, "--help"}, {"help", name}} {
			stdout, stderr, code := runCLI(t, nil, args...)
			if code != 0 || !strings.HasPrefix(stdout, "usage: fastopen "+name) || stderr != "" {
				t.Errorf("fastopen %q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
			}
		}
	}
	for _, tc := range []struct {
		sub       string
		has, hasn []string
	}{
		{"up", []string{"-rtt", "-fault", "-detach", "drop-syn-data"}, []string{"-connects"}},
		{"exec", []string{"client|server [--] CMD"}, []string{"-rtt"}},
		{"status", []string{"-json"}, []string{"-rtt", "-connects"}},
		{"down", []string{"usage: fastopen lab down"}, []string{"-rtt"}},
		{"selftest", []string{"-connects", "-pps"}, []string{"-fault"}},
	} {
		for _, args := range [][]string{{"lab", tc.sub, "--help"}, {"help", "lab", tc.sub}} {
			stdout, _, code := runCLI(t, nil, args...)
			if code != 0 {
				t.Errorf("fastopen %q: exit %d", args, code)
			}
			for _, s := range tc.has {
				if !strings.Contains(stdout, s) {
					t.Errorf("fastopen %q does not mention %q:\n%s", args, s, stdout)
				}
			}
			for _, s := range tc.hasn {
				if strings.Contains(stdout, s+" ") {
					t.Errorf("fastopen %q lists %q, which is not %s's:\n%s", args, s, tc.sub, stdout)
				}
			}
		}
	}
}

// jsonLines decodes each line of out into a map.
func jsonLines(t *testing.T, what, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: line %q is not a JSON object: %v", what, line, err)
		}
		objs = append(objs, m)
	}
	return objs
}

func needFields(t *testing.T, what string, m map[string]any, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			t.Errorf("%s: no field %q in %v", what, f, m)
		}
	}
}

// TestLabLifecycle: a detached lab is reported by status, runs commands
// (their flags left to them), refuses a second lab, and after its process
// is killed, status says so and down removes its namespaces and ends what
// ran in them. The lab keeps its state in a directory of its own.
func TestLabLifecycle(t *testing.T) {
	labtest.NeedRoot(t)
	env := []string{lab.StateDirEnv + "=" + t.TempDir()}
	t.Cleanup(func() { runCLI(t, env, "lab", "down") })

	stdout, stderr, code := runCLI(t, env, "lab", "up", "--detach", "--rtt", "10ms", "--json")
	if code != 0 {
		t.Fatalf("lab up --detach: exit %d: %s", code, stderr)
	}
	up := jsonLines(t, "lab up --json", stdout)[0]
	needFields(t, "lab up --json", up, "pid", "hosts", "rtt_ns")
	var st lab.State
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	nss := []string{st.Hosts["client"].NS, st.Hosts["server"].NS}

	stdout, _, code = runCLI(t, env, "lab", "status", "--json")
	status := jsonLines(t, "lab status --json", stdout)[0]
	if code != 0 || status["running"] != true || status["pid"] != float64(st.PID) {
		t.Fatalf("lab status --json: exit %d, %v", code, status)
	}
	// The hint names this lab's state directory: run as printed, it acts
	// on this lab, not on one running beside it.
	if _, stderr, code := runCLI(t, env, "lab", "up", "--detach", "--rtt", "10ms"); code != 1 || !strings.Contains(stderr, "already running") || !strings.Contains(stderr, env[0]+" fastopen lab down") {
		t.Errorf("second lab up: exit %d, %q; want 'already running' and '%s fastopen lab down'", code, stderr, env[0])
	}

	// A server in the lab, and a client whose own flags follow the command
	// without "--".
	srv := exec.Command(binary, "lab", "exec", "server", "--", binary, "serve", "--addr", "10.200.0.2:8000", "--log-json")
	srv.Env = append(os.Environ(), env...)
	srvErr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Wait() }()
	t.Cleanup(func() { srv.Process.Kill() })
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(srvErr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"listening"`) {
				close(listening)
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("serve in the lab did not start")
	}
	stdout, stderr, code = runCLI(t, env, "lab", "exec", "client", binary, "send", "10.200.0.2:8000", "--count", "2", "--json")
	if code != 0 {
		t.Fatalf("lab exec client send: exit %d: %s", code, stderr)
	}
	recs := jsonLines(t, "send --json", stdout)
	if len(recs) != 2 || recs[1]["syn_data"] != true {
		t.Fatalf("send through the lab: %v", recs)
	}
	needFields(t, "send --json", recs[0], "conn", "reply", "syn_data", "sent_in_syn", "had_cookie", "fail_reason", "elapsed_ms", "rtt_ms", "info")
	if _, _, code := runCLI(t, env, "lab", "exec", "client", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("lab exec of a command exiting 7: exit %d", code)
	}

	// kill -9 the lab's process.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, stderr, code = runCLI(t, env, "lab", "status")
		if code == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != 1 || !strings.Contains(stderr, "has died") || !strings.Contains(stderr, "lab down") {
		t.Errorf("lab status after kill -9: exit %d, %q", code, stderr)
	}
	if _, stderr, code := runCLI(t, env, "lab", "exec", "client", "--", "true"); code != 1 || !strings.Contains(stderr, "has died") || !strings.Contains(stderr, "lab down") {
		t.Errorf("lab exec after kill -9: exit %d, %q; want exit 1 pointing to lab down", code, stderr)
	}
	stdout, stderr, code = runCLI(t, env, "lab", "down", "--json")
	if code != 0 {
		t.Fatalf("lab down: exit %d: %s", code, stderr)
	}
	down := jsonLines(t, "lab down --json", stdout)[0]
	// The namespaces are removed by this lab down, or (when another
	// process builds a lab at the same time, e.g. a parallel test
	// package) by that lab's clean-up of dead labs: either way they are
	// gone below, and what ran in them has ended.
	if down["stopped_pid"] != float64(0) || down["dead_pid"] != float64(st.PID) {
		t.Errorf("lab down after kill -9: %v; want no pid stopped, the dead lab's pid %d named", down, st.PID)
	}
	for _, n := range down["removed_namespaces"].([]any) {
		if n != nss[0] && n != nss[1] {
			t.Errorf("lab down removed %v, not a namespace of the dead lab", n)
		}
	}
	for _, ns := range nss {
		if _, err := os.Stat(filepath.Join("/var/run/netns", ns)); !os.IsNotExist(err) {
			t.Errorf("namespace %s left after lab down: %v", ns, err)
		}
	}
	select {
	case <-srvDone:
	case <-time.After(10 * time.Second):
		t.Error("the server started in the killed lab still runs after lab down")
	}
	if _, _, code := runCLI(t, env, "lab", "exec", "client", "--", "true"); code != 1 {
		t.Errorf("lab exec without a lab: exit %d, want 1", code)
	}
	stdout, _, _ = runCLI(t, env, "lab", "down", "--json")
	if !strings.Contains(stdout, `"removed_namespaces":[]`) {
		t.Errorf("lab down --json with nothing to remove: %q, want an empty list, not null", stdout)
	}
}

// TestJSONOutputs: demo and bench print the fields bench/SCHEMA.md
// documents; bench refuses an unusable --out before measuring.
func TestJSONOutputs(t *testing.T) {
	labtest.NeedRoot(t)
	env := []string{lab.StateDirEnv + "=" + t.TempDir()}
	stdout, stderr, code := runCLI(t, env, "demo", "--rtt", "10ms", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	demo := jsonLines(t, "demo --json", stdout)
	if len(demo) != 1 {
		t.Fatalf("demo --json printed %d lines, want 1", len(demo))
	}
	needFields(t, "demo --json", demo[0], "rtt_ms", "loopback", "server", "runs", "saving_ms", "saving_rtts", "link_lateness_p99_us")
	runs := demo[0]["runs"].([]any)
	if len(runs) < 3 {
		t.Fatalf("demo runs: %v", runs)
	}
	needFields(t, "demo run", runs[1].(map[string]any), "name", "client", "tfo", "syn_data", "syn_bytes", "elapsed_ms", "total_ms", "rtts", "outcome", "handshake")

	stdout, stderr, code = runCLI(t, env, "bench", "--rtt", "10ms", "--runs", "2", "--warmup", "1", "--json", "--quiet")
	if code != 0 {
		t.Fatalf("bench: exit %d: %s", code, stderr)
	}
	res := jsonLines(t, "bench --json", stdout)[0]
	needFields(t, "bench --json", res, "server", "runs", "warmup", "mss", "syn_payload_max", "loopback", "points", "link_lateness_p99_us")
	points := res["points"].([]any)
	if len(points) != 3 {
		t.Fatalf("bench points: %d, want lazy, eager, plain", len(points))
	}
	needFields(t, "bench point", points[0].(map[string]any), "rtt_ms", "size", "loss", "client", "server", "tfo", "runs", "errors",
		"median_ms", "p10_ms", "p90_ms", "min_ms", "max_ms", "mean_ms", "median_rtts", "syn_data_ratio", "syn_bytes_max", "saving_ms", "saving_rtts", "samples_ms")

	stdout, stderr, code = runCLI(t, env, "bench", "--rtt", "10ms", "--runs", "1", "--csv", "--quiet", "--client", "lazy")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "rtt_ms,size,loss,") {
		t.Errorf("bench --csv: exit %d, %q, %s", code, stdout, stderr)
	}

	stdout, stderr, code = runCLI(t, env, "bench", "--rtt", "10ms", "--runs", "1", "--quiet", "--out", "/dev/null/charts")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "--out") {
		t.Errorf("bench --out into a file: exit %d, stdout %q, stderr %q; want exit 1 before measuring", code, stdout, stderr)
	}
}

// TestTraceFiles: a live capture beside serve and send ends after --count
// segments, prints JSON lines, and its -w file decodes with -r; -r of a
// file that is no capture fails with status 1.
func TestTraceFiles(t *testing.T) {
	h := labtest.Host(t, "trace", 3)
	startServe(t, h, "--addr", "127.0.0.1:8000")
	pcap := filepath.Join(t.TempDir(), "out.pcap")
	tr := h.Command(binary, "trace", "-i", "lo", "--port", "8000", "--count", "6", "--json", "-w", pcap)
	var out bytes.Buffer
	tr.Stdout = &out
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Wait() }()
	time.Sleep(300 * time.Millisecond) // the capture socket opens
	sendRecords(t, h, "127.0.0.1:8000", "--count", "2")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("trace: %v", err)
		}
	case <-time.After(10 * time.Second):
		tr.Process.Kill()
		t.Fatal("trace --count 6 did not end")
	}
	kinds := map[string]int{}
	for _, m := range jsonLines(t, "trace --json", out.String()) {
		kinds[m["type"].(string)]++
	}
	if kinds["event"] != 6 || kinds["flow"] == 0 || kinds["stats"] != 1 {
		t.Fatalf("trace --json line types: %v", kinds)
	}
	stdout, stderr, code := runCLI(t, nil, "trace", "-r", pcap, "--json")
	if code != 0 {
		t.Fatalf("trace -r: exit %d: %s", code, stderr)
	}
	flows := 0
	for _, m := range jsonLines(t, "trace -r --json", stdout) {
		if m["type"] == "flow" {
			flows++
			needFields(t, "flow", m, "client", "server", "outcome", "syn_data", "rtt_ns")
		}
	}
	if flows == 0 {
		t.Error("trace -r found no connection in its own capture")
	}
	if _, stderr, code := runCLI(t, nil, "trace", "-r", "/proc/self/status"); code != 1 || !strings.Contains(stderr, "not a pcap") {
		t.Errorf("trace -r of a text file: exit %d, %q", code, stderr)
	}
}

// TestUnprivileged: without root, the lab, demo and trace say what they
// need and exit 1.
func TestUnprivileged(t *testing.T) {
	labtest.NeedRoot(t) // to switch to nobody
	su, err := exec.LookPath("su")
	if err != nil {
		t.Skip("no su")
	}
	// The test binary lives in a private temporary directory; nobody needs
	// a copy it can execute.
	dir, err := os.MkdirTemp("", "fastopen-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "fastopen")
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		"lab up --detach --rtt 10ms": "needs root / CAP_NET_ADMIN",
		"lab up --rtt 10ms":          "needs root / CAP_NET_ADMIN",
		"demo --rtt 10ms --quiet":    "needs root / CAP_NET_ADMIN",
		"trace -i lo --count 1":      "needs root / CAP_NET_RAW",
	} {
		// A state directory of its own: a lab running beside is not seen.
		cmd := exec.Command(su, "nobody", "-s", "/bin/sh", "-c", lab.StateDirEnv+"="+filepath.Join(dir, "state")+" "+bin+" "+args)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), want) {
			t.Errorf("fastopen %s as nobody: %v, %q; want exit 1 saying it %s", args, err, out, want)
		}
	}
}
