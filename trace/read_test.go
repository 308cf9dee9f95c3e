package trace

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadErrorMessages: a file that cannot be a capture, or cannot be
// read, is reported for what it is.
func TestReadErrorMessages(t *testing.T) {
	dir := t.TempDir()
	golden, err := os.ReadFile("testdata/tfo-lo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		format     bool // wraps ErrFormat
		want, not  string
	}{
		{"directory", dir, false, "is a directory", "bytes long"},
		{"empty", write("empty.pcap", nil), true, "is empty", ""},
		{"short text", write("hello.txt", []byte("hello\n")), true, "6 bytes", "unexpected EOF"},
		{"text", write("notes.txt", []byte(strings.Repeat("not a capture\n", 4))), true, "magic", ""},
		{"truncated", write("cut.pcap", golden[:len(golden)-10]), false, "truncated", "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadFile(tc.path)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrFormat) != tc.format || !strings.Contains(err.Error(), tc.want) || tc.not != "" && strings.Contains(err.Error(), tc.not) {
				t.Errorf("error %q (format error: %v); want one saying %q (format error: %v)", err, errors.Is(err, ErrFormat), tc.want, tc.format)
			}
		})
	}
	// A truncated file still yields what came before the cut.
	evs, _, err := Read(bytes.NewReader(golden[:len(golden)-10]), ReadOptions{})
	if err == nil || len(evs) != 17 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated file: %d events (want 17, all but the last), error %v (want one matching io.ErrUnexpectedEOF)", len(evs), err)
	}
}
