package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Pids lists the processes whose network namespace is the host's, e.g.
// servers started with `fastopen lab exec`.
func (h *Host) Pids() ([]int, error) {
	var want unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, h.NS), &want); err != nil {
		return nil, fmt.Errorf("lab: host %s: %w", h.Name, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) != nil {
			continue
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// StopProcesses ends the processes running inside the lab's hosts:
// SIGTERM, then SIGKILL for those still alive after grace. Without it
// they would keep running in namespaces that no longer have a name or a
// link. It returns how many processes it signalled.
func (l *Lab) StopProcesses(grace time.Duration) int {
	return stopIn([]*Host{l.Client, l.Server}, grace)
}

// stopIn ends the processes running in hosts (nil entries are skipped).
func stopIn(hosts []*Host, grace time.Duration) int {
	var pids []int
	for _, h := range hosts {
		if h == nil {
			continue
		}
		p, err := h.Pids()
		if err == nil {
			pids = append(pids, p...)
		}
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, pid := range pids {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if running(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return len(pids)
}

// running reports whether a process exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// staleGrace is how long the processes in a dead lab's namespaces get to
// end after SIGTERM before SIGKILL.
const staleGrace = 2 * time.Second

// CleanStale removes what dead labs left: lab namespaces (named with
// Prefix and their creator's pid, see NewHost) whose creating process is
// gone, e.g. after a crashed test or a lab killed with SIGKILL, and names
// left half-made (a file that never became a mount). The processes still
// running inside such a namespace (a server started with `fastopen lab
// exec`) are stopped first (SIGTERM, then SIGKILL after staleGrace), so
// none keeps running in a namespace that nothing names. Namespaces of
// live processes (a parallel test binary, a detached `fastopen lab up`,
// a pid reused by another process) are kept, as are namespaces of other
// names. A state file that names a removed namespace stays readable: its
// lab is dead, and State.Left tells what is left of it.
func CleanStale() (Cleanup, error) {
	var c Cleanup
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return c, nil
		}
		return c, err
	}
	var stale []*Host
	for _, e := range entries {
		if ownerPID(e.Name()) > 0 && !ownerAlive(e.Name()) {
			stale = append(stale, &Host{Name: e.Name(), NS: e.Name()})
		}
	}
	if len(stale) == 0 {
		return c, nil
	}
	c.Stopped = stopIn(stale, staleGrace)
	for _, h := range stale {
		if err := deleteNamed(h.NS); err == nil {
			c.Removed = append(c.Removed, h.NS)
		}
	}
	return c, nil
}
