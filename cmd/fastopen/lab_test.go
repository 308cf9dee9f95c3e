//go:build linux

package main

import (
	"encoding/json"
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

// TestLabUpBounds: lab up takes the bench's and the demo's bounds (RTT up
// to 10s, jitter up to 5s, a rate of at least 64kbit, loss below 1, an
// MTU from 1280, 0 refused), and its banner shows loss, rate, jitter and
// MTU, as lab status does.
func TestLabUpBounds(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rtt", "1000h"}, "RTT 1000h0m0s is longer than 10s"},
		{[]string{"--jitter", "1h"}, "jitter 1h0m0s is larger than 5s"},
		{[]string{"--rate", "1bit"}, "rate 1 bit/s: use 0 (unlimited) or at least 64000"},
		{[]string{"--loss", "1"}, "loss 1 drops every packet"},
		{[]string{"--mtu", "0"}, "--mtu 0 out of range: use 1280"},
		{[]string{"--mtu", "67"}, "MTU 67 out of range: use 1280"},
		{[]string{"--fault", "dup-syn:1h"}, "want a delay from 0 to 10s"},
	} {
		_, stderr, code := runCLI(t, []string{lab.StateDirEnv + "=" + t.TempDir()}, append([]string{"lab", "up", "--detach"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("lab up %q: exit %d, %q; want exit 2 saying %q", tc.args, code, stderr, tc.want)
		}
	}
	labtest.NeedRoot(t)
	env := []string{lab.StateDirEnv + "=" + t.TempDir()}
	t.Cleanup(func() { runCLI(t, env, "lab", "down") })
	stdout, stderr, code := runCLI(t, env, "lab", "up", "--detach", "--rtt", "20ms", "--jitter", "1ms", "--loss", "0.01", "--rate", "100mbit", "--mtu", "1400")
	if code != 0 {
		t.Fatalf("lab up: exit %d: %s", code, stderr)
	}
	status, _, _ := runCLI(t, env, "lab", "status")
	for name, out := range map[string]string{"banner": stdout, "status": status} {
		for _, want := range []string{"RTT 20ms, MTU 1400", "client→server  10ms   ±1ms", "0.01", "100mbit"} {
			if !strings.Contains(out, want) {
				t.Errorf("lab up %s lacks %q:\n%s", name, want, out)
			}
		}
	}
	stdout, _, _ = runCLI(t, env, "lab", "status", "--json")
	var st struct {
		MTU int           `json:"mtu"`
		Up  lab.LinkState `json:"up"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st.MTU != 1400 || st.Up.Loss != 0.01 || st.Up.Rate != 100e6 || st.Up.Jitter != time.Millisecond {
		t.Errorf("lab status --json: %+v, %v", st, err)
	}
}

// TestLabUpCleansOnlyDeadLabs: lab A (its own state directory) is killed
// with a process still running in its server host. Starting lab B (another
// state directory) removes A's namespaces only after stopping that
// process, and A's directory stays consistent: its status says the lab
// died and its namespaces are gone, and lab down clears it. B runs on.
func TestLabUpCleansOnlyDeadLabs(t *testing.T) {
	labtest.NeedRoot(t)
	envA := []string{lab.StateDirEnv + "=" + t.TempDir()}
	envB := []string{lab.StateDirEnv + "=" + t.TempDir()}
	t.Cleanup(func() { runCLI(t, envA, "lab", "down"); runCLI(t, envB, "lab", "down") })
	stdout, stderr, code := runCLI(t, envA, "lab", "up", "--detach", "--rtt", "10ms", "--json")
	if code != 0 {
		t.Fatalf("lab up A: exit %d: %s", code, stderr)
	}
	var a lab.State
	if err := json.Unmarshal([]byte(stdout), &a); err != nil {
		t.Fatal(err)
	}
	// A process in A's server host, as `lab exec server -- ...` leaves one.
	left := exec.Command("ip", "netns", "exec", a.Hosts["server"].NS, "sleep", "600")
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { left.Wait(); close(exited) }()
	t.Cleanup(func() { left.Process.Kill() })
	if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); a.Alive(); {
		if time.Now().After(deadline) {
			t.Fatal("lab A still alive after SIGKILL")
		}
		time.Sleep(10 * time.Millisecond)
	}

	stdout, stderr, code = runCLI(t, envB, "lab", "up", "--detach", "--rtt", "10ms")
	if code != 0 {
		t.Fatalf("lab up B: exit %d: %s", code, stderr)
	}
	// Stopped before its namespace was removed (the clean-up waits until
	// it has ended), so it is being reaped by now.
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("lab up B removed A's namespaces while a process still ran in one")
	}
	// Which lab's start removed A's namespaces depends on what else runs
	// (a parallel test package may build labs); when it was B's, its
	// banner says so.
	if strings.Contains(stdout, "removed what dead labs left") && !strings.Contains(stdout, a.Hosts["client"].NS) && !strings.Contains(stdout, a.Hosts["server"].NS) {
		t.Errorf("lab up B's banner names other namespaces than A's:\n%s", stdout)
	}
	for _, h := range a.Hosts {
		if _, err := os.Stat(filepath.Join("/var/run/netns", h.NS)); !os.IsNotExist(err) {
			t.Errorf("dead lab's namespace %s still there: %v", h.NS, err)
		}
	}
	_, stderr, code = runCLI(t, envA, "lab", "status")
	if code != 1 || !strings.Contains(stderr, "has died and its namespaces were already removed") {
		t.Errorf("status of dead lab A: exit %d, %q", code, stderr)
	}
	stdout, stderr, code = runCLI(t, envA, "lab", "down")
	if code != 0 || !strings.Contains(stdout, "cleared the state of a dead lab") {
		t.Errorf("lab down A: exit %d, %q %q", code, stdout, stderr)
	}
	if _, stderr, code := runCLI(t, envA, "lab", "status"); code != 1 || !strings.Contains(stderr, "no lab is running (start one") {
		t.Errorf("status of A after lab down: exit %d, %q", code, stderr)
	}
	if _, _, code := runCLI(t, envB, "lab", "status"); code != 0 {
		t.Errorf("lab B no longer runs after A's clean-up: status exit %d", code)
	}
}
