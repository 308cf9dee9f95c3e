package probe

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fastopen/fastopen/internal/table"
)

// WriteText writes the report for people: a table with one row per
// address, then each address's verdict in words with its evidence and
// what to do, then the overall verdict.
func (r *Report) WriteText(w io.Writer) error {
	rows := [][]string{{"ADDRESS", "VERDICT", "COLD", "WARM TFO", "PLAIN", "SAVING", "PATH MEMORY"}}
	for _, a := range r.Addresses {
		saving := "-"
		if a.Saving != 0 {
			saving = fmt.Sprintf("%s (%.2f RTT)", ms(a.Saving), a.SavingRTTs)
		}
		mem := "-"
		if pv := a.Path; pv != nil {
			mem = pv.State
			if pv.Match == PathDisagrees {
				mem += " (disagrees)"
			}
		}
		rows = append(rows, []string{a.Address.String(), string(a.Verdict), ms(a.Cold), ms(a.Warm), ms(a.Plain), saving, mem})
	}
	if err := table.Write(w, rows); err != nil {
		return err
	}
	var b strings.Builder
	for _, a := range r.Addresses {
		fmt.Fprintf(&b, "\n%s: %s\n", a.Address, a.Text)
		for _, e := range a.Evidence {
			fmt.Fprintf(&b, "  - %s\n", e)
		}
		if a.Verdict != Works {
			fmt.Fprintf(&b, "  what to do: %s\n", a.Advice)
		}
		if pv := a.Path; pv != nil {
			fmt.Fprintf(&b, "  path memory: %s\n", pv.Text)
			if pv.Disagreement != "" {
				fmt.Fprintf(&b, "  disagreement: %s\n", pv.Disagreement)
			}
			if pv.Taught != "" {
				fmt.Fprintf(&b, "  taught: %s\n", pv.Taught)
			}
		}
	}
	fmt.Fprintf(&b, "\noverall for %s (%s first flights, %d address(es)): %s [%s]\n", r.Target, r.As, len(r.Addresses), r.Overall, r.Category)
	if r.PathDisagreements > 0 {
		fmt.Fprintf(&b, "the path memory disagrees with the probe for %d address(es): see \"disagreement\" above\n", r.PathDisagreements)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ms formats a duration in milliseconds, "-" for zero.
func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
