//go:build !linux

package lab

import (
	"errors"
	"time"
)

// ErrUnsupported is returned by New where network namespaces and TUN
// devices do not exist.
var ErrUnsupported = errors.New("lab: needs Linux (network namespaces and TUN devices)")

// Lab is two hosts joined by an emulated link; it only exists on Linux.
type Lab struct {
	// Client and Server are the two hosts.
	Client, Server *Host
	// Cleaned is what New removed of dead labs.
	Cleaned Cleanup
	cfg     Config
}

// New fails: the lab needs Linux.
func New(cfg Config) (*Lab, error) { return nil, ErrUnsupported }

// Stats returns empty counters.
func (l *Lab) Stats() Stats { return Stats{} }

// Close does nothing.
func (l *Lab) Close() error { return nil }

// StopProcesses does nothing where labs cannot run.
func (l *Lab) StopProcesses(grace time.Duration) int { return 0 }

// CleanStale does nothing where labs cannot run.
func CleanStale() (Cleanup, error) { return Cleanup{}, nil }

// SetFaultActive fails where labs cannot run.
func (l *Lab) SetFaultActive(name string, active bool) error { return ErrUnsupported }
