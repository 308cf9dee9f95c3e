package trace

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/fastopen/fastopen/internal/table"
)

// Printer writes events and connection summaries for people: one line per
// segment, grouped under a heading per connection, and a summary table.
// It holds no state per connection, so a capture left running prints in
// constant memory. It is not safe for concurrent use, and it ignores write
// errors.
type Printer struct {
	w      io.Writer
	newest int // the highest connection ID given a heading
	last   int
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w, last: -1} }

// Event prints one event. A connection's first event is preceded by a
// heading naming client and server; lines show the time since that
// connection's SYN. Events must come in the order a Tracker returns them:
// a connection's first event has a higher ID than every connection before
// it.
func (p *Printer) Event(e Event) {
	switch {
	case e.Err != "":
		fmt.Fprintf(p.w, "  %s  %s\n", e.Time.Format("15:04:05.000000"), e.Note)
		p.last = -1
		return
	case e.Flow == 0:
		fmt.Fprintf(p.w, "  %s  %s\n", e.Time.Format("15:04:05.000000"), e)
		p.last = 0
		return
	}
	if e.Flow > p.newest {
		p.newest = e.Flow
		client, server := e.Src, e.Dst
		if e.Dir == ToClient {
			client, server = server, client
		}
		fmt.Fprintf(p.w, "connection %d: client %s → server %s\n", e.Flow, client, server)
	} else if p.last != e.Flow {
		fmt.Fprintf(p.w, "connection %d (continued):\n", e.Flow)
	}
	p.last = e.Flow
	fmt.Fprintf(p.w, "  %10s  %s  %s\n", "+"+ms(e.Since), e.Dir, e.Note)
}

// Summary prints a table of the connections and what TFO did on each.
func (p *Printer) Summary(flows []Flow) {
	if len(flows) == 0 {
		fmt.Fprintln(p.w, "no TCP connection starts were seen")
		return
	}
	fmt.Fprintln(p.w, "\nsummary:")
	if first := flows[0].ID; first > 1 {
		fmt.Fprintf(p.w, "  (connections 1 to %d are not listed: only the latest %d are kept)\n", first-1, len(flows))
	}
	rows := [][]string{{"  #", "client", "server", "TFO", "bytes in SYN", "RTT", "first server byte"}}
	for _, f := range flows {
		rtt := "?"
		if f.RTT > 0 {
			rtt = ms(f.RTT)
			if f.RTTEstimated {
				rtt += " (est.)"
			}
		}
		first := "none"
		if f.FirstServerData > 0 {
			first = ms(f.FirstServerData)
			if f.FirstServerDataRTTs > 0 {
				first += fmt.Sprintf(" = %.1f RTT", f.FirstServerDataRTTs)
			}
		}
		rows = append(rows, []string{fmt.Sprintf("  %d", f.ID), f.Client.String(), f.Server.String(), string(f.Outcome), strconv.Itoa(f.SYNData), rtt, first})
	}
	table.Write(p.w, rows)
	fmt.Fprintln(p.w)
	for _, f := range flows {
		fmt.Fprintf(p.w, "  %d: %s\n", f.ID, f.Outcome.Describe())
	}
}

// ms renders a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	prec := 3
	if v >= 10 {
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " ms"
}
