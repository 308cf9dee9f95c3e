package cli

import (
	"bytes"
	"flag"
	"testing"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`hello!`:                 "hello!",
		`GET / HTTP/1.0\r\n\r\n`: "GET / HTTP/1.0\r\n\r\n",
		`a\tb\\c\x41\x7f\0`:      "a\tb\\cA\x7f\x00",
		`\xff\xFE`:               "\xff\xfe",
	} {
		got, err := Unescape(in)
		if err != nil || string(got) != want {
			t.Errorf("Unescape(%q) = %q, %v; want %q", in, got, err, want)
		}
		if back, _ := Unescape(Quote([]byte(want))); !bytes.Equal(back, []byte(want)) {
			t.Errorf("Quote round trip of %q: %q", want, back)
		}
	}
	for _, bad := range []string{`x\`, `\q`, `\x4`, `\xzz`} {
		if _, err := Unescape(bad); err == nil {
			t.Errorf("Unescape(%q): no error", bad)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := newFS()
	n := fs.Int("count", 1, "")
	pos, err := Parse(fs, []string{"127.0.0.1:8000", "--count", "3", "extra", "--", "--not-a-flag"})
	if err != nil || *n != 3 || len(pos) != 3 || pos[0] != "127.0.0.1:8000" || pos[2] != "--not-a-flag" {
		t.Fatalf("Parse = %q, count=%d, %v", pos, *n, err)
	}
}

func newFS() *flag.FlagSet { return flag.NewFlagSet("t", flag.ContinueOnError) }
