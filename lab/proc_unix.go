//go:build unix

package lab

import (
	"errors"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ownerAlive reports whether the process whose pid is embedded in a lab
// namespace name (Prefix + label + "-" + pid + "-" + random) still runs.
func ownerAlive(name string) bool {
	pid := ownerPID(name)
	if pid <= 0 {
		return false
	}
	return pidAlive(pid)
}

// pidAlive reports whether a process with this pid exists.
func pidAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// ownerPID extracts the creator's pid from a lab namespace name, or 0.
func ownerPID(name string) int {
	parts := strings.Split(name, "-")
	if len(parts) < 3 {
		return 0
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
