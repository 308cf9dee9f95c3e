package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestGetUsage: get's (and send's) bad inputs exit 2 with the reason,
// before any request: an out-of-range port in the URL, an invalid method,
// and waits too long to be meant.
func TestGetUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "http://127.0.0.1:99999/"}, `port "99999" is not a number from 1 to 65535`},
		{[]string{"get", "http://127.0.0.1:0/"}, `port "0" is not a number from 1 to 65535`},
		{[]string{"get", "http://127.0.0.1:1/", "-X", "BAD METHOD"}, `invalid method "BAD METHOD"`},
		{[]string{"get", "http://127.0.0.1:1/", "--timeout", "1000000h"}, "want at most 1h0m0s"},
		{[]string{"get", "http://127.0.0.1:1/", "--count", "2", "--interval", "2h"}, "want at most 1h0m0s"},
		{[]string{"send", "127.0.0.1:1", "--timeout", "1000000h"}, "want at most 1h0m0s"},
		{[]string{"send", "127.0.0.1:1", "--count", "2", "--interval", "2h"}, "want at most 1h0m0s"},
	} {
		stdout, stderr, code := runCLIWithin(t, 10*time.Second, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "fetching") {
			t.Errorf("fastopen %q: exit %d, stderr %q; want exit 2 and %q before any request", tc.args, code, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("fastopen %q printed %q on standard output", tc.args, stdout)
		}
	}
}

// runCLIWithin is runCLI with a bound: a command that should have
// refused its input at once but runs instead is killed after d and
// reported as exit -1.
func runCLIWithin(t *testing.T, d time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return o.String(), e.String(), -1
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("fastopen %q: %v", args, err)
	}
	return o.String(), e.String(), code
}
