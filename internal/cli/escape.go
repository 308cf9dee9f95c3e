package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// Unescape turns the escapes \r \n \t \\ \0 and \xHH in s into bytes, so
// that an HTTP request can be typed on a command line:
// 'GET / HTTP/1.0\r\n\r\n'. Any other backslash sequence is an error.
func Unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '\\' {
			out = append(out, ch)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("escape at the end of %q: a lone backslash (write \\\\ for one)", s)
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("escape \\x at offset %d needs two hex digits", i-1)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("escape \\x%s at offset %d: not two hex digits", s[i+1:i+3], i-1)
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c at offset %d (known: \\r \\n \\t \\0 \\\\ \\xHH)", s[i], i-1)
		}
	}
	return out, nil
}

// Quote renders bytes for a terminal: printable text as is, the rest as
// the escapes Unescape reads.
func Quote(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\\':
			sb.WriteString(`\\`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&sb, `\x%02x`, c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
