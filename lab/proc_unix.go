//go:build unix

package lab

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
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

// pidAlive reports whether a process with this pid exists and is not a
// zombie (a killed lab whose parent has not reaped it yet is gone).
func pidAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	if err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	st, ok := procStat(pid)
	return !ok || st.state != 'Z' && st.state != 'X'
}

// procStart returns when a process started (clock ticks since boot), to
// tell it from a later process that reuses its pid; ok is false where
// /proc is not available.
func procStart(pid int) (start uint64, ok bool) {
	st, ok := procStat(pid)
	return st.start, ok
}

// stat holds the fields of /proc/PID/stat this package uses.
type stat struct {
	state byte
	start uint64
}

// procStat reads /proc/PID/stat (proc(5)).
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// "pid (comm) state ppid ...": comm may hold anything, so fields are
	// counted from the last ')'. starttime is field 22, the 20th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return stat{}, false
	}
	return stat{state: f[0][0], start: start}, true
}

// ownerPID extracts the creator's pid from a lab namespace name, or 0 when
// the name does not have the form NewHost gives (Prefix, label, pid, 8 hex
// digits): such a namespace is someone else's and is never removed.
func ownerPID(name string) int {
	if !strings.HasPrefix(name, Prefix) {
		return 0
	}
	parts := strings.Split(strings.TrimPrefix(name, Prefix), "-")
	if len(parts) < 3 {
		return 0
	}
	if r := parts[len(parts)-1]; len(r) != 8 || !isHex(r) {
		return 0
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}
