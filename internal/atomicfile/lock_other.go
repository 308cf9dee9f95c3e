//go:build !unix

package atomicfile

import (
	"os"
	"time"
)

// staleAge is how old a temporary file must be to count as left by a
// killed writer where there is no flock: a write takes milliseconds.
const staleAge = 10 * time.Minute

// renameOpen: Windows cannot rename a file that is open.
const renameOpen = false

// lockTemp does nothing where there is no flock; staleTemp goes by age.
func lockTemp(*os.File) error { return nil }

// staleTemp reports whether the temporary file at path is older than
// staleAge.
func staleTemp(path string) bool {
	st, err := os.Stat(path)
	return err == nil && time.Since(st.ModTime()) > staleAge
}
