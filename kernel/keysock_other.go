//go:build !linux

package kernel

import "fmt"

// SocketKeys returns the keys a socket's cookies are checked against;
// only Linux has TCP_FASTOPEN_KEY.
func SocketKeys(fd int) ([]Key, error) {
	return nil, fmt.Errorf("read TFO key: %w", ErrUnsupported)
}

// Probe reports no TFO support outside Linux.
func Probe() (Support, error) {
	return Support{}, fmt.Errorf("probe TFO: %w", ErrUnsupported)
}
