package table

import (
	"strings"
	"testing"
)

func TestWriteAligns(t *testing.T) {
	var b strings.Builder
	err := Write(&b, [][]string{
		{"run", "time", "why"},
		{"first contact", "200.8 ms", "no cookie"},
		{"µ", "1 ms", ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "run            time      why\n" +
		"first contact  200.8 ms  no cookie\n" +
		"µ              1 ms\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
