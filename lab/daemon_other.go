//go:build !linux

package lab

import "time"

// DaemonEnv is set to "1" in the environment of a detached lab process.
const DaemonEnv = "FASTOPEN_LAB_DAEMON"

// StartDetached fails: the lab needs Linux.
func StartDetached(args []string, timeout time.Duration) (*State, error) {
	return nil, ErrUnsupported
}

// Stop fails: the lab needs Linux.
func Stop(s *State, timeout time.Duration) ([]string, error) { return nil, ErrUnsupported }
