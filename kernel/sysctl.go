// Package kernel reads and changes the Linux kernel's TCP Fast Open state:
// the net.ipv4.tcp_fastopen sysctl, the TcpExt TFO counters, server cookie
// keys and the client cookie cache.
//
// Everything here acts on the network namespace of the calling OS thread;
// run it inside lab.Host.Run (or a process started in a namespace) to act
// on another namespace.
//
// Check explains the TFO setup and what to change; FastOpenMode,
// ChangeRole and PersistFastOpenMode read and write the sysctl;
// ReadCounters and CounterFile read the counters; Key, LoadKeyFile,
// KeyWatcher, Rotation and SetListenerKey manage server cookie keys;
// Cookies and FlushCookies the client's cookie cache. Changing anything
// needs root / CAP_NET_ADMIN: such errors wrap ErrPrivilege. Linux only:
// elsewhere the functions fail with errors wrapping ErrUnsupported.
package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrPrivilege is wrapped by errors from operations that need root or
// CAP_NET_ADMIN (writing sysctls, flushing cookies) when the process
// lacks it. Its text says so and suggests sudo.
var ErrPrivilege = errors.New("needs root / CAP_NET_ADMIN (run with sudo)")

// SysctlFastOpen is the name of the TFO sysctl.
const SysctlFastOpen = "net.ipv4.tcp_fastopen"

// SysctlBlackholeTimeout is the sysctl holding the initial time, in
// seconds, for which the kernel turns client TFO off after it detects a
// middlebox dropping TFO packets; 0 disables the detection (the default
// since Linux 5.14).
const SysctlBlackholeTimeout = "net.ipv4.tcp_fastopen_blackhole_timeout_sec"

// SysctlFastOpenKey is the sysctl holding the namespace's server cookie
// key(s): "primary" or "primary,backup" in Key's text format.
const SysctlFastOpenKey = "net.ipv4.tcp_fastopen_key"

// Mode is the value of net.ipv4.tcp_fastopen, a bit set. The zero value
// is TFO off for both sides.
type Mode int

// Bits of net.ipv4.tcp_fastopen, from the kernel's ip-sysctl documentation.
const (
	// ModeClient enables TFO for outgoing connections (sending data in SYN).
	ModeClient Mode = 0x1
	// ModeServer enables TFO for listeners that ask for it (TCP_FASTOPEN).
	ModeServer Mode = 0x2
	// ModeClientNoCookie sends data in the SYN without a cookie.
	ModeClientNoCookie Mode = 0x4
	// ModeServerNoCookie accepts SYN data without a cookie (needs a
	// listener with TCP_FASTOPEN set unless ModeServerAllListeners).
	ModeServerNoCookie Mode = 0x200
	// ModeServerAllListeners enables TFO on every listener, without
	// TCP_FASTOPEN.
	ModeServerAllListeners Mode = 0x400
)

// Client reports whether the client bit is set.
func (m Mode) Client() bool { return m&ModeClient != 0 }

// Server reports whether the server bit is set.
func (m Mode) Server() bool { return m&ModeServer != 0 }

// SysctlPath is the /proc/sys file of a dotted sysctl name.
func SysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// Sysctl reads a sysctl (dotted name) in the calling thread's namespace
// and returns its value without surrounding white space. The error names
// the sysctl (a missing one matches fs.ErrNotExist).
func Sysctl(key string) (string, error) {
	b, err := os.ReadFile(SysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SetSysctl writes a sysctl (dotted name) in the calling thread's
// namespace. Without root / CAP_NET_ADMIN the error wraps ErrPrivilege.
func SetSysctl(key, value string) error {
	if err := os.WriteFile(SysctlPath(key), []byte(value), 0o644); err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist) && os.Geteuid() != 0 {
			return fmt.Errorf("set %s=%s: %w", key, value, ErrPrivilege)
		}
		return fmt.Errorf("set %s=%s: %w", key, value, err)
	}
	return nil
}

// FastOpenMode reads net.ipv4.tcp_fastopen in the calling thread's
// namespace. Reading needs no privileges.
func FastOpenMode() (Mode, error) {
	s, err := Sysctl(SysctlFastOpen)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("parse %s=%q: %w", SysctlFastOpen, s, err)
	}
	return Mode(v), nil
}

// SetFastOpenMode writes net.ipv4.tcp_fastopen in the calling thread's
// namespace; see SetSysctl for its errors. ChangeRole changes one side
// and keeps the other bits.
func SetFastOpenMode(m Mode) error {
	return SetSysctl(SysctlFastOpen, strconv.Itoa(int(m)))
}
