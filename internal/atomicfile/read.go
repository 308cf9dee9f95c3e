package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by ReadRegular's error for a name that is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")

// ReadRegular reads the regular file name, at most limit+1 bytes: a result
// longer than limit tells the caller that the file is larger, without
// reading all of it. Anything else (a directory, a device, a named pipe)
// is refused with an error wrapping ErrNotRegular that says what it is. The
// file is opened without blocking and checked on the open descriptor, so a
// named pipe without a writer does not hang the caller, and a file swapped
// after a caller's own check is still checked. Errors name the file.
func ReadRegular(name string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, %w", name, Kind(st.Mode()), ErrNotRegular)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}
