package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// DaemonEnv is set to "1" in the environment of a detached lab process.
const DaemonEnv = "FASTOPEN_LAB_DAEMON"

// StartDetached re-runs this program with args as a daemon (its own
// session, output to LogPath, DaemonEnv=1) and waits up to timeout until
// it has written its state file, which it returns. If the daemon exits
// first, the error includes its log; if it is not ready in time, it is
// killed. Creating StateDir needs root (the error then wraps
// ErrPrivilege).
func StartDetached(args []string, timeout time.Duration) (*State, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("lab: create %s: %w", StateDir, ErrPrivilege)
		}
		return nil, fmt.Errorf("lab: create %s: %w", StateDir, err)
	}
	log, err := os.OpenFile(LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("lab: write %s: %w", LogPath, ErrPrivilege)
	}
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), DaemonEnv+"=1")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start detached lab: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(timeout)
	for {
		if s, err := ReadState(); err == nil && s.PID == cmd.Process.Pid {
			return s, nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(LogPath)
			return nil, fmt.Errorf("lab: detached lab exited (%w): %s", err, bytes.TrimSpace(out))
		case <-deadline:
			cmd.Process.Kill()
			return nil, fmt.Errorf("lab: detached lab not ready after %v (see %s)", timeout, LogPath)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop asks the process running a lab to shut down (SIGTERM) and waits up
// to timeout for it to exit, then kills it. A lab whose process is already
// gone (killed) is not signalled: the processes still running in its
// namespaces are stopped instead. Stale namespaces are removed afterwards;
// it returns their names. The state and statistics files are removed. s
// may be nil (no state file): then only what dead labs left is cleaned
// up.
func Stop(s *State, timeout time.Duration) ([]string, error) {
	if s.alive() {
		if err := syscall.Kill(s.PID, syscall.SIGTERM); err != nil {
			return nil, fmt.Errorf("lab: stop pid %d: %w", s.PID, err)
		}
		deadline := time.Now().Add(timeout)
		for s.alive() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if s.alive() {
			syscall.Kill(s.PID, syscall.SIGKILL)
			time.Sleep(100 * time.Millisecond)
		}
	}
	stopStaleProcesses(timeout)
	removed, err := CleanStale()
	if rerr := RemoveState(0); err == nil {
		err = rerr
	}
	if rerr := os.Remove(StatsPath); err == nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	return removed, err
}
