package kernel

import (
	"strings"
	"testing"
)

// TestParseNetstatMalformed: malformed input is an error or skipped,
// never a panic (a trailing blank line used to index an empty header).
func TestParseNetstatMalformed(t *testing.T) {
	good := "TcpExt: TCPFastOpenActive TCPFastOpenPassive\nTcpExt: 1 2\n"
	c, err := parseNetstat(strings.NewReader(good + "\n"))
	if err != nil || c["TcpExt.TCPFastOpenPassive"] != 2 {
		t.Fatalf("trailing blank line: %v, %v", c, err)
	}
	for _, in := range []string{
		"TcpExt: A B\n",            // header without values
		"TcpExt: A B\nTcpExt: 1\n", // too few values
		"TcpExt: A\nTcpExt: x\n",   // not a number
	} {
		if _, err := parseNetstat(strings.NewReader(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
