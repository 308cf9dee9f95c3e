// Package sysctl reads and writes the Linux kernel's TCP Fast Open
// sysctls: net.ipv4.tcp_fastopen (Mode, with its bits, roles and words),
// the blackhole timeout and the namespace's cookie key, and makes the mode
// last across reboots (PersistFastOpenMode). It holds the errors the
// kernel-facing packages share: ErrPrivilege and ErrUnsupported.
//
// Everything here acts on the network namespace of the calling OS thread.
// It depends on the standard library only, so the fastopen package can
// read the server bit without pulling in more.
package sysctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrUnsupported is wrapped by errors from features this kernel or
// operating system does not have; it matches errors.ErrUnsupported too.
var ErrUnsupported = fmt.Errorf("not supported by this kernel (%w)", errors.ErrUnsupported)

// ErrPrivilege is wrapped by errors from operations that need root or
// CAP_NET_ADMIN (writing sysctls, flushing cookies) when the process
// lacks it. Its text says so and suggests sudo.
var ErrPrivilege = errors.New("needs root / CAP_NET_ADMIN (run with sudo)")

// FastOpen is the name of the TFO sysctl.
const FastOpen = "net.ipv4.tcp_fastopen"

// BlackholeTimeout is the sysctl holding the initial time, in
// seconds, for which the kernel turns client TFO off after it detects a
// middlebox dropping TFO packets; 0 disables the detection (the default
// since Linux 5.14).
const BlackholeTimeout = "net.ipv4.tcp_fastopen_blackhole_timeout_sec"

// FastOpenKey is the sysctl holding the namespace's server cookie
// key(s): "primary" or "primary,backup" in Key's text format.
const FastOpenKey = "net.ipv4.tcp_fastopen_key"

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

// Path is the /proc/sys file of a dotted sysctl name.
func Path(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// Read reads a sysctl (dotted name) in the calling thread's namespace
// and returns its value without surrounding white space. The error names
// the sysctl (a missing one matches fs.ErrNotExist).
func Read(key string) (string, error) {
	b, err := os.ReadFile(Path(key))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Write writes a sysctl (dotted name) in the calling thread's
// namespace. Without root / CAP_NET_ADMIN the error wraps ErrPrivilege.
func Write(key, value string) error {
	if err := os.WriteFile(Path(key), []byte(value), 0o644); err != nil {
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
	s, err := Read(FastOpen)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("parse %s=%q: %w", FastOpen, s, err)
	}
	return Mode(v), nil
}

// SetFastOpenMode writes net.ipv4.tcp_fastopen in the calling thread's
// namespace; see Write for its errors. ChangeRole changes one side
// and keeps the other bits.
func SetFastOpenMode(m Mode) error {
	return Write(FastOpen, strconv.Itoa(int(m)))
}
