//go:build !(linux || darwin || freebsd)

package bench

import "io"

// termWidth reports no terminal width here: the bar uses its default.
func termWidth(io.Writer) int { return 0 }
