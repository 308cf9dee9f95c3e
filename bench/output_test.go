package bench

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestCSVHeaderCoversPoint: --csv has a column for every JSON field of a
// point except the raw samples, as bench/SCHEMA.md promises.
func TestCSVHeaderCoversPoint(t *testing.T) {
	typ := reflect.TypeOf(Point{})
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || name == "samples_ms" {
			continue
		}
		if !slices.Contains(CSVHeader, name) {
			t.Errorf("point field %q has no CSV column", name)
		}
	}
}

func TestBarFinish(t *testing.T) {
	var b strings.Builder
	bar := NewBar(&b)
	bar.Update(0, 4, "rtt 10ms")
	if strings.Contains(b.String(), "\n") {
		t.Fatalf("an unfinished bar ended its line: %q", b.String())
	}
	bar.Finish()
	if !strings.HasSuffix(b.String(), "\n") {
		t.Fatalf("Finish left the bar's line open: %q", b.String())
	}
	n := b.Len()
	bar.Finish()
	if b.Len() != n {
		t.Fatalf("a second Finish wrote again: %q", b.String())
	}

	b.Reset()
	bar = NewBar(&b)
	bar.Update(4, 4, "done")
	if !strings.HasSuffix(b.String(), "\n") || !strings.Contains(b.String(), "4/4") {
		t.Fatalf("a finished bar: %q", b.String())
	}
	bar.Finish()
	if strings.HasSuffix(b.String(), "\n\n") {
		t.Fatalf("Finish after a complete bar added a blank line: %q", b.String())
	}
}
