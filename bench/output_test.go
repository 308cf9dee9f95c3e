package bench

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
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
	terminal := func() int { return 80 }
	bar := NewBar(&b)
	bar.width = terminal
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
	bar.width = terminal
	bar.Update(4, 4, "done")
	if !strings.HasSuffix(b.String(), "\n") || !strings.Contains(b.String(), "4/4") {
		t.Fatalf("a finished bar: %q", b.String())
	}
	bar.Finish()
	if strings.HasSuffix(b.String(), "\n\n") {
		t.Fatalf("Finish after a complete bar added a blank line: %q", b.String())
	}
}

// TestBarOffTerminal: written to a log rather than a terminal, the bar
// prints whole lines, one per tenth of the work, and no carriage returns.
func TestBarOffTerminal(t *testing.T) {
	var b strings.Builder
	bar := NewBar(&b) // a strings.Builder is not a terminal
	for i := 0; i <= 100; i++ {
		bar.last = time.Time{} // as if 100 ms had passed
		bar.Update(i, 100, "rtt 10ms")
	}
	bar.Finish()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if strings.Contains(b.String(), "\r") || len(lines) != 10 || !strings.Contains(lines[9], "100/100") || !strings.Contains(lines[0], "10/100") {
		t.Errorf("off a terminal, got %d lines:\n%s\nwant 10 lines, 10/100 to 100/100, no carriage return", len(lines), b.String())
	}
}

// TestTableAligned: the bench table's columns line up, also when only the
// TFO rows have a saving (a row that ended early used to shift the
// columns of the rows after it).
func TestTableAligned(t *testing.T) {
	res := &Result{MSS: 1460, Points: []Point{
		{RTTMS: 20, Size: 6, Client: ClientLazy, TFO: true, Runs: 3, MedianMS: 20.3, MedianRTTs: 1.01, SYNDataRatio: 1, Baseline: ClientPlain, SavingMS: 20.1, SavingRTTs: 1},
		{RTTMS: 20, Size: 6, Client: ClientPlain, Runs: 3, MedianMS: 40.4, MedianRTTs: 2.02},
		{RTTMS: 20, Size: 1024, Client: ClientLazy, TFO: true, Runs: 3, MedianMS: 20.3, MedianRTTs: 1.01, SYNDataRatio: 1, Baseline: ClientPlain, SavingMS: 20.1, SavingRTTs: 1},
		{RTTMS: 20, Size: 1024, Client: ClientPlain, Runs: 3, MedianMS: 40.4, MedianRTTs: 2.02},
	}}
	var b strings.Builder
	WriteTable(&b, res)
	lines := strings.Split(b.String(), "\n")
	col := strings.Index(lines[0], "saving")
	for _, l := range lines[1:5] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("saving column (at %d) misaligned in:\n%s", col, b.String())
			break
		}
	}
}

// TestBarFitsTerminal: on a narrow terminal every redraw fits in one line
// (a wrapped line cannot be redrawn with a carriage return).
func TestBarFitsTerminal(t *testing.T) {
	var b strings.Builder
	bar := NewBar(&b)
	bar.width = func() int { return 60 }
	bar.Update(3, 10, "warm-up rtt 100ms, 16 KiB, loss 5%, curl --tcp-fastopen")
	for _, l := range strings.Split(b.String(), "\r")[1:] {
		if n := len([]rune(strings.TrimSuffix(l, "\n"))); n > 59 {
			t.Errorf("bar line of %d columns on a 60-column terminal: %q", n, l)
		}
	}
	if !strings.Contains(b.String(), "3/10") {
		t.Errorf("bar %q lacks the count", b.String())
	}
}
