//go:build !linux

package lab

import (
	"context"
	"errors"
	"time"
)

// DaemonEnv is set to "1" in the environment of a detached lab process.
const DaemonEnv = "FASTOPEN_LAB_DAEMON"

// StartDetached fails: the lab needs Linux.
func StartDetached(args []string, timeout time.Duration) (*State, error) {
	return nil, ErrUnsupported
}

// ErrRunning: see the Linux version; never returned here.
var ErrRunning = errors.New("a lab is already running")

// Detached is false where labs cannot run.
func Detached() bool { return false }

// RunResult is what Run returns once its lab is down.
type RunResult struct {
	// Stats are the link's final statistics.
	Stats Stats
	// Stopped counts the processes stopped in the hosts.
	Stopped int
}

// Run fails: the lab needs Linux.
func Run(ctx context.Context, cfg Config, ready func(*State)) (RunResult, error) {
	return RunResult{}, ErrUnsupported
}

// Stop fails: the lab needs Linux.
func Stop(s *State, timeout time.Duration) (Cleanup, error) { return Cleanup{}, ErrUnsupported }
