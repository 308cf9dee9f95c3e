package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// StateDirEnv names the environment variable that moves StateDir, so
// that separate labs (e.g. one per test) can run side by side: each lab
// has its own namespaces, and only its state file is shared.
const StateDirEnv = "FASTOPEN_LAB_DIR"

// DefaultStateDir is StateDir unless StateDirEnv says otherwise.
const DefaultStateDir = "/run/fastopen-lab"

// StateDir holds the state file of the lab started by `fastopen lab up`:
// DefaultStateDir, or $FASTOPEN_LAB_DIR when set.
var StateDir = stateDir()

func stateDir() string {
	if d := os.Getenv(StateDirEnv); d != "" {
		return d
	}
	return DefaultStateDir
}

// Command returns the shell command `fastopen lab ARGS` for messages that
// tell a person what to run next, with FASTOPEN_LAB_DIR in front when
// StateDir is not the default, so that the command acts on this lab and
// not on another one running beside it.
func Command(args string) string {
	if StateDir != DefaultStateDir {
		return StateDirEnv + "=" + StateDir + " fastopen lab " + args
	}
	return "fastopen lab " + args
}

// StatePath is the state file: which process runs the lab and its hosts.
var StatePath = filepath.Join(StateDir, "state.json")

// LogPath receives the output of a detached lab.
var LogPath = filepath.Join(StateDir, "lab.log")

// State describes a running lab for other commands (`lab exec`, `lab down`).
type State struct {
	// PID of the process that runs the forwarder.
	PID int `json:"pid"`
	// ProcStart is when that process started (clock ticks since boot, from
	// /proc), so that a later process reusing the pid is not mistaken for
	// the lab.
	ProcStart uint64 `json:"proc_start,omitempty"`
	// Started is when the lab came up.
	Started time.Time `json:"started"`
	// Hosts maps "client" and "server" to their namespace and addresses.
	Hosts map[string]HostState `json:"hosts"`
	// RTT is the configured round-trip time.
	RTT time.Duration `json:"rtt_ns"`
	// Up (client → server) and Down (server → client) are the link's
	// directions as the lab applies them.
	Up   LinkState `json:"up"`
	Down LinkState `json:"down"`
	// MTU is the link's MTU.
	MTU int `json:"mtu"`
	// Faults lists the fault rules' labels.
	Faults []string `json:"faults,omitempty"`
	// Cleaned is what the lab's start removed of dead labs (New's
	// CleanStale), when anything.
	Cleaned *Cleanup `json:"cleaned,omitempty"`
}

// LinkState is one direction of a running lab's link.
type LinkState struct {
	// Delay is the one-way delay; Jitter the random extra delay (±).
	Delay  time.Duration `json:"delay_ns"`
	Jitter time.Duration `json:"jitter_ns"`
	// Loss and Duplicate are probabilities per packet.
	Loss      float64 `json:"loss"`
	Duplicate float64 `json:"duplicate"`
	// Rate is the bandwidth cap in bit/s; 0 is unlimited.
	Rate int64 `json:"rate_bps"`
}

func linkState(c LinkConfig) LinkState {
	return LinkState{Delay: c.Delay, Jitter: c.Jitter, Loss: c.Loss, Duplicate: c.Duplicate, Rate: c.Rate}
}

// HostState is one host of a running lab.
type HostState struct {
	// NS is the namespace name (usable with `ip netns exec`).
	NS string `json:"ns"`
	// IPv4 and IPv6 are the host's addresses on the link.
	IPv4 string `json:"ipv4"`
	IPv6 string `json:"ipv6"`
}

// StateOf describes l as run by this process.
func StateOf(l *Lab) *State {
	s := &State{PID: os.Getpid(), Started: time.Now(), RTT: l.cfg.RTT, Hosts: map[string]HostState{},
		Up: linkState(l.cfg.Up), Down: linkState(l.cfg.Down), MTU: l.cfg.MTU}
	s.ProcStart, _ = procStart(s.PID)
	if l.Client != nil {
		s.Hosts["client"] = HostState{NS: l.Client.NS, IPv4: l.ClientAddr(false).String(), IPv6: l.ClientAddr(true).String()}
	}
	if l.Server != nil {
		s.Hosts["server"] = HostState{NS: l.Server.NS, IPv4: l.ServerAddr(false).String(), IPv6: l.ServerAddr(true).String()}
	}
	for _, r := range l.cfg.Faults {
		s.Faults = append(s.Faults, r.Label())
	}
	if len(l.Cleaned.Removed) > 0 || l.Cleaned.Stopped > 0 {
		c := l.Cleaned
		s.Cleaned = &c
	}
	return s
}

// ErrNoLab is returned by ReadState when no lab is running. Its text tells
// how to start one.
var ErrNoLab = errors.New("no lab is running (start one with `fastopen lab up`)")

// WriteState records s in StatePath, atomically, creating StateDir if
// needed (which needs root: the error then wraps ErrPrivilege).
func WriteState(s *State) error {
	if err := os.MkdirAll(StateDir, 0o755); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("lab: create %s: %w", StateDir, ErrPrivilege)
		}
		return fmt.Errorf("lab: create %s: %w", StateDir, err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := StatePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("lab: write state file: %w", err)
	}
	return os.Rename(tmp, StatePath)
}

// ReadState reads the running lab's state. It returns ErrNoLab when there
// is no state file (and a nil State), or when the process that wrote it
// is gone: then it also returns that State, so that the caller can name
// what the dead lab left behind (Stop removes it). A state file that does
// not parse is an error that says to run `fastopen lab down`.
func ReadState() (*State, error) {
	b, err := os.ReadFile(StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoLab
	}
	if err != nil {
		return nil, fmt.Errorf("lab: read %s: %w", StatePath, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("lab: %s is corrupt (%w); run `%s` to clean up", StatePath, err, Command("down"))
	}
	if !s.alive() {
		return &s, ErrNoLab
	}
	return &s, nil
}

// Left lists the namespaces of the lab described by s that still exist
// (none for nil): after its process died, what `lab down` has to remove.
// A later lab's clean-up may have removed them already.
func (s *State) Left() []string {
	if s == nil {
		return nil
	}
	var left []string
	for _, name := range []string{"client", "server"} {
		ns := s.Hosts[name].NS
		if ns == "" {
			continue
		}
		if _, err := os.Lstat(filepath.Join(netnsDir, ns)); err == nil {
			left = append(left, ns)
		}
	}
	return left
}

// Alive reports whether the process that ran the lab described by s still
// runs (false for nil).
func (s *State) Alive() bool { return s.alive() }

// alive reports whether the process that ran the lab still runs.
func (s *State) alive() bool {
	if s == nil || s.PID <= 0 || !pidAlive(s.PID) {
		return false
	}
	if s.ProcStart != 0 {
		if start, ok := procStart(s.PID); ok && start != s.ProcStart {
			return false // the pid now belongs to another process
		}
	}
	return true
}

// RemoveState deletes the state file if it belongs to pid (0: any). A
// missing or unreadable state file is not an error.
func RemoveState(pid int) error {
	if pid != 0 {
		b, err := os.ReadFile(StatePath)
		if err != nil {
			return nil
		}
		var s State
		if json.Unmarshal(b, &s) == nil && s.PID != pid {
			return nil
		}
	}
	if err := os.Remove(StatePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// StatsPath holds the running lab's link statistics, refreshed every
// second by the process that runs it.
var StatsPath = filepath.Join(StateDir, "stats.json")

// WriteStats records s in StatsPath, atomically. StateDir must exist
// (WriteState creates it).
func WriteStats(s Stats) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := StatsPath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, StatsPath)
}

// ReadStats reads the statistics last written by the running lab. It
// fails (with an error matching fs.ErrNotExist) when no lab has written
// any: none runs, or it started less than a second ago.
func ReadStats() (Stats, error) {
	var s Stats
	b, err := os.ReadFile(StatsPath)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// Cleanup is what CleanStale or Stop removed of dead labs.
type Cleanup struct {
	// Removed names the namespaces removed.
	Removed []string `json:"removed_namespaces"`
	// Stopped counts the processes stopped inside them first.
	Stopped int `json:"stopped_processes"`
}
