package lab

import (
	"bytes"
	"context"
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
	if err := checkNotRunning(); err != nil {
		return nil, err
	}
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

// ErrRunning is returned (wrapped) by Run and StartDetached when a lab
// already runs with this StateDir; the message says how to stop it.
var ErrRunning = errors.New("a lab is already running")

// checkNotRunning fails with ErrRunning if a live lab owns StateDir.
func checkNotRunning() error {
	if s, err := ReadState(); err == nil {
		return fmt.Errorf("%w (pid %d); stop it with '%s'", ErrRunning, s.PID, Command("down"))
	}
	return nil
}

// Detached reports whether this process is a lab started by
// StartDetached (DaemonEnv is set).
func Detached() bool { return os.Getenv(DaemonEnv) == "1" }

// RunResult is what Run returns once its lab is down.
type RunResult struct {
	// Stats are the link's final statistics.
	Stats Stats
	// Stopped counts the processes still running in the hosts that Run
	// stopped on the way out.
	Stopped int
}

// statsEvery is how often Run refreshes StatsPath for `lab status`.
const statsEvery = time.Second

// Run runs the lab of StateDir in this process until ctx ends: it builds
// the lab with cfg (New, which first removes what dead labs left),
// records its State in StatePath, calls ready with it, and refreshes the
// link statistics in StatsPath every second. When ctx ends it stops the
// processes still running in the hosts (SIGTERM, SIGKILL after 2s),
// removes the lab, its state and statistics files, and returns the final
// statistics. A live lab in StateDir is an error wrapping ErrRunning.
func Run(ctx context.Context, cfg Config, ready func(*State)) (RunResult, error) {
	var res RunResult
	if err := checkNotRunning(); err != nil {
		return res, err
	}
	l, err := New(cfg)
	if err != nil {
		return res, err
	}
	defer l.Close()
	st := StateOf(l)
	if err := WriteState(st); err != nil {
		return res, err
	}
	defer RemoveState(st.PID)
	defer os.Remove(StatsPath)
	if ready != nil {
		ready(st)
	}
	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			_ = WriteStats(l.Stats())
		}
	}
	res.Stopped = l.StopProcesses(2 * time.Second)
	res.Stats = l.Stats()
	return res, l.Close()
}

// Stop asks the process running a lab to shut down (SIGTERM) and waits up
// to timeout for it to exit, then kills it. A lab whose process is already
// gone (killed) is not signalled. Then what dead labs left is removed
// (CleanStale: the processes in their namespaces are stopped first, then
// the namespaces removed), and the state and statistics files of
// StateDir. s may be nil (no state file): then only what dead labs left
// is cleaned up.
func Stop(s *State, timeout time.Duration) (Cleanup, error) {
	if s.alive() {
		if err := syscall.Kill(s.PID, syscall.SIGTERM); err != nil {
			return Cleanup{}, fmt.Errorf("lab: stop pid %d: %w", s.PID, err)
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
	c, err := CleanStale()
	if rerr := RemoveState(0); err == nil {
		err = rerr
	}
	if rerr := os.Remove(StatsPath); err == nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	return c, err
}
