//go:build !linux

package key

import (
	"fmt"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/sysctl"
)

// SocketKeys returns the keys a socket's cookies are checked against;
// only Linux has TCP_FASTOPEN_KEY.
func SocketKeys(fd int) ([]fastopen.Key, error) {
	return nil, fmt.Errorf("read TFO key: %w", sysctl.ErrUnsupported)
}
