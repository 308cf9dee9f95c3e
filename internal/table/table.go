// Package table writes rows of text as aligned columns for people: the
// one table writer behind the CLI's, the bench's and the trace's tables.
package table

import (
	"bufio"
	"io"
	"strings"
	"unicode/utf8"
)

// Write writes rows as columns aligned on the widest cell (in runes) of
// each, two spaces apart, with no trailing spaces; the first row is
// usually the header. Rows may have fewer cells than others, and empty
// cells keep their column's place.
func Write(w io.Writer, rows [][]string) error {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	bw := bufio.NewWriter(w)
	var line strings.Builder
	for _, r := range rows {
		line.Reset()
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		bw.WriteString(strings.TrimRight(line.String(), " "))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
