package table

import (
	"strings"
	"testing"
)

func TestWriteAligns(t *testing.T) {
	var b strings.Builder
	err := Write(&b, [][]string{
		{"run", "time", "why", "saving"},
		{"first contact", "200.8 ms", "no cookie", "x"},
		{"µ", "1 ms", "", ""},
		{"plain", "", "", "100.4 ms"},
		{"short"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "run            time      why        saving\n" +
		"first contact  200.8 ms  no cookie  x\n" +
		"µ              1 ms\n" +
		"plain                               100.4 ms\n" +
		"short\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
