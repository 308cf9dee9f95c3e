package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastopen/fastopen/internal/labtest"
)

// TestSendDataInputs: an empty --data (or --data-file) is a usage error
// naming the problem, --data with --data-file conflict, and --json keeps
// a non-UTF-8 reply's exact bytes in reply_base64.
func TestSendDataInputs(t *testing.T) {
	h := labtest.Host(t, "senddata", 3)
	startServe(t, h, "--addr", "127.0.0.1:8000")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	some := filepath.Join(dir, "some")
	os.WriteFile(some, []byte("x"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", ""}, "--data is empty: there is nothing to send"},
		{[]string{"--data-file", empty}, "is empty: there is nothing to send"},
		{[]string{"--data", "a", "--data-file", some}, "--data and --data-file conflict"},
	} {
		code, out := exitCode(t, h.Command(binary, append([]string{"send", "127.0.0.1:8000", "--timeout", "2s"}, tc.args...)...).CombinedOutput)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("send %q: exit %d, %q; want exit 2 saying %q", tc.args, code, out, tc.want)
		}
	}
	recs := sendRecords(t, h, "127.0.0.1:8000", "--data", `ok\xff\xfe\x00`)
	if len(recs) != 1 || recs[0].ReplyBase64 != "b2v//gA=" || recs[0].Reply != "ok\ufffd\ufffd\x00" {
		t.Fatalf("non-UTF-8 reply: %+v, want reply_base64 b2v//gA= beside the text", recs)
	}
	if recs = sendRecords(t, h, "127.0.0.1:8000", "--data", "text"); recs[0].ReplyBase64 != "" {
		t.Errorf("a UTF-8 reply also got reply_base64 %q", recs[0].ReplyBase64)
	}
}

// TestSendEchoLimit: sending 131,000 bytes to `fastopen serve` (which
// answers one read of at most 2048 bytes and closes) fails with a
// message that names the limit and what to do, not only a reset.
func TestSendEchoLimit(t *testing.T) {
	h := labtest.Host(t, "sendlimit", 3)
	startServe(t, h, "--addr", "127.0.0.1:8000")
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, []byte(strings.Repeat("z", 131000)), 0o600)
	code, out := exitCode(t, h.Command(binary, "send", "127.0.0.1:8000", "--data-file", big, "--timeout", "5s").CombinedOutput)
	if code == 0 {
		// The reset can lose the race with the reply; then the note says it.
		if !strings.Contains(out, "note: the reply has") || !strings.Contains(out, "at most 2048 bytes") {
			t.Fatalf("short reply without a note: %q", out)
		}
		return
	}
	if code != 1 || !strings.Contains(out, "the request has 131000 bytes") || !strings.Contains(out, "at most 2048 bytes") || !strings.Contains(out, "--stream") {
		t.Fatalf("exit %d, %q: want the echo's 2048-byte limit named", code, out)
	}
}
