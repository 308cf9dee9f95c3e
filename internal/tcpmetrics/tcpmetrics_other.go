//go:build !linux

package tcpmetrics

import (
	"errors"
	"fmt"
	"net/netip"
)

// Get is Linux only.
func Get(dest netip.Addr) (Entry, error) {
	return Entry{}, fmt.Errorf("read TCP metrics: %w", errors.ErrUnsupported)
}

// Dump is Linux only.
func Dump() ([]Entry, error) {
	return nil, fmt.Errorf("read TCP metrics: %w", errors.ErrUnsupported)
}

// Delete is Linux only.
func Delete(dest netip.Addr) error {
	return fmt.Errorf("flush TCP metrics: %w", errors.ErrUnsupported)
}
