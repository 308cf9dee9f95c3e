//go:build !linux

package fastopen

import (
	"errors"
	"fmt"
)

// SetListenerKey sets the TFO cookie key of one listening socket; it is
// supported on Linux only and returns an error matching
// errors.ErrUnsupported elsewhere.
func SetListenerKey(fd uintptr, primary Key, backup *Key) error {
	return fmt.Errorf("setting a TFO key on a listener: %w", errors.ErrUnsupported)
}
