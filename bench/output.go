package bench

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fastopen/fastopen/internal/table"
)

// WriteTable writes the points as a table for people, then a line per
// TFO point that has a baseline saying how much it saved.
func WriteTable(w io.Writer, res *Result) {
	rows := [][]string{{"RTT", "size", "loss", "server", "client", "TFO", "runs", "median", "p10", "p90", "min", "max", "RTTs", "in SYN", "saving"}}
	for _, p := range res.Points {
		rtt := "-"
		if p.RTTMS > 0 {
			rtt = fmtMS(p.RTTMS)
		}
		// "-", not "", where there is nothing to show: every row keeps all
		// its cells, so the columns stay aligned.
		rtts, saving := "-", "-"
		if p.MedianRTTs > 0 {
			rtts = fmt.Sprintf("%.2f", p.MedianRTTs)
		}
		if p.Baseline != "" {
			saving = fmtMS(p.SavingMS)
			if p.RTTMS > 0 {
				saving += fmt.Sprintf(" (%.2f RTT)", p.SavingRTTs)
			}
		}
		runs := strconv.Itoa(p.Runs)
		if p.Errors > 0 {
			runs += fmt.Sprintf(" (%d failed)", p.Errors)
		}
		inSYN := fmt.Sprintf("%.0f%%", p.SYNDataRatio*100)
		if p.PartialSYNRatio > 0 {
			inSYN += fmt.Sprintf(" (%.0f%% partial)", p.PartialSYNRatio*100)
		}
		size := sizeString(p.Size)
		if res.MSS > 0 && p.Size > res.MSS {
			size += " >MSS"
		}
		rows = append(rows, []string{rtt, size, fmt.Sprintf("%g%%", p.Loss*100), p.Server, variantName(variant{p.Client, p.TFO}), yesNo(p.TFO), runs,
			fmtMS(p.MedianMS), fmtMS(p.P10MS), fmtMS(p.P90MS), fmtMS(p.MinMS), fmtMS(p.MaxMS), rtts,
			inSYN, saving})
	}
	table.Write(w, rows)
	if res.LinkLatenessP99US > 0 {
		fmt.Fprintf(w, "\nThe emulated link delivered 99%% of packets within %.0f µs of their due time.\n", res.LinkLatenessP99US)
	}
	var sizeNote []string
	if res.MSS > 0 {
		sizeNote = append(sizeNote, fmt.Sprintf("MSS %d B (>MSS marks larger requests).", res.MSS))
	}
	larger := false
	for _, p := range res.Points {
		larger = larger || res.SYNPayloadMax > 0 && p.Size > res.SYNPayloadMax
	}
	if larger {
		sizeNote = append(sizeNote, fmt.Sprintf("The SYN carried at most %d B: the rest of a larger request waits for the handshake, and TFO's saving is gone.", res.SYNPayloadMax))
	}
	if len(sizeNote) > 0 {
		fmt.Fprintln(w, strings.Join(sizeNote, " "))
	}
	for _, p := range res.Points {
		if p.FirstError != "" {
			fmt.Fprintf(w, "error at RTT %s, %s, %s: %s\n", fmtMS(p.RTTMS), sizeString(p.Size), variantName(variant{p.Client, p.TFO}), p.FirstError)
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// CSVHeader is the first row WriteCSV writes.
var CSVHeader = []string{"rtt_ms", "size", "loss", "server", "client", "tfo", "runs", "errors", "median_ms", "p10_ms", "p90_ms", "min_ms", "max_ms", "mean_ms", "median_rtts", "syn_data_ratio", "syn_bytes_max", "syn_sent_bytes_max", "partial_syn_ratio", "baseline", "saving_ms", "saving_rtts", "first_error"}

// WriteCSV writes one row per point, with CSVHeader first.
func WriteCSV(w io.Writer, res *Result) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, p := range res.Points {
		cw.Write([]string{f(p.RTTMS), strconv.Itoa(p.Size), f(p.Loss), p.Server, p.Client, strconv.FormatBool(p.TFO),
			strconv.Itoa(p.Runs), strconv.Itoa(p.Errors), f(p.MedianMS), f(p.P10MS), f(p.P90MS), f(p.MinMS), f(p.MaxMS), f(p.MeanMS),
			f(p.MedianRTTs), f(p.SYNDataRatio), strconv.Itoa(p.SYNBytesMax), strconv.Itoa(p.SYNSentBytesMax), f(p.PartialSYNRatio), p.Baseline, f(p.SavingMS), f(p.SavingRTTs), p.FirstError})
	}
	cw.Flush()
	return cw.Error()
}

func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.1f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.3f ms", v)
}

func sizeString(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// Bar draws a progress bar on a terminal's standard error: Update is a
// Config.Progress function, redrawn at most every 100 ms; Finish ends a
// bar left unfinished, by an error or an interrupt, so that what is
// printed next starts on a line of its own. Where w is not a terminal (a
// log file, CI) it writes a plain line at every tenth of the work instead
// of redrawing.
type Bar struct {
	w     io.Writer
	width func() int // columns of w's terminal, 0 if unknown
	mu    sync.Mutex
	last  time.Time
	start time.Time
	open  bool // a partial line is on screen
	tenth int  // tenths of the work reported, off a terminal
}

// NewBar returns a Bar that draws on w. On a terminal each redraw fits in
// one line of it (a line that wrapped could not be redrawn in place).
func NewBar(w io.Writer) *Bar {
	return &Bar{w: w, width: func() int { return termWidth(w) }, start: time.Now()}
}

// Update draws done out of total, with an estimate of the time left and
// what is being measured now.
func (b *Bar) Update(done, total int, what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if done < total && time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	const width = 30
	n := width * min(done, total) / max(total, 1)
	eta := ""
	if done > 0 && done < total {
		left := time.Duration(float64(time.Since(b.start)) / float64(done) * float64(total-done))
		eta = " ~" + left.Round(time.Second).String() + " left"
	}
	line := []rune(fmt.Sprintf("[%s%s] %d/%d%s  %s", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, eta, what))
	c := b.width()
	if c == 0 {
		if t := 10 * min(done, total) / max(total, 1); t > b.tenth || done >= total && b.tenth < 10 {
			b.tenth = max(t, b.tenth)
			fmt.Fprintln(b.w, string(line))
		}
		return
	}
	cols := max(c-1, 1) // the last column would wrap on some terminals
	if len(line) > cols {
		line = line[:cols]
	}
	fmt.Fprintf(b.w, "\r%s%s", string(line), strings.Repeat(" ", cols-len(line)))
	b.open = done < total
	if !b.open {
		fmt.Fprintln(b.w)
	}
}

// Finish ends the bar's line if it was left unfinished.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open {
		fmt.Fprintln(b.w)
		b.open = false
	}
}
