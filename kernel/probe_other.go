//go:build !linux

package kernel

import (
	"fmt"

	"github.com/fastopen/fastopen/sysctl"
)

// Probe reports no TFO support outside Linux.
func Probe() (Support, error) {
	return Support{}, fmt.Errorf("probe TFO: %w", sysctl.ErrUnsupported)
}
