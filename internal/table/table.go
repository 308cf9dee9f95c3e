// Package table writes rows of text as aligned columns for people: the
// one table writer behind the CLI's, the bench's and the trace's tables.
package table

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Write writes rows as columns aligned on the widest cell (in runes) of
// each, two spaces apart; the first row is usually the header. Cells must
// not hold tabs or newlines.
func Write(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		for len(r) > 0 && r[len(r)-1] == "" {
			r = r[:len(r)-1] // no padding after the last cell
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
