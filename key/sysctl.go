package key

import (
	"fmt"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/sysctl"
)

// SetSysctlKey sets the namespace-wide server key(s) through
// net.ipv4.tcp_fastopen_key: listeners without their own key use them.
// A non-nil backup is accepted for incoming cookies but not issued.
// Without root / CAP_NET_ADMIN the error wraps sysctl.ErrPrivilege.
func SetSysctlKey(primary fastopen.Key, backup *fastopen.Key) error {
	if err := sysctl.Write(sysctl.FastOpenKey, fastopen.FormatKeys(primary, backup)); err != nil {
		return fmt.Errorf("set the namespace's TFO key: %w", err)
	}
	return nil
}

// SysctlKeys reads net.ipv4.tcp_fastopen_key. The kernel prints a zero
// key when none is set yet (it makes a random one when the first TFO
// listener starts). Reading needs root; without it the error matches
// fs.ErrPermission.
func SysctlKeys() (primary fastopen.Key, backup *fastopen.Key, err error) {
	s, err := sysctl.Read(sysctl.FastOpenKey)
	if err != nil {
		return primary, nil, err
	}
	return fastopen.ParseKeys(s)
}

// Key states reported by NamespaceKeyState.
const (
	// KeyStateSet: the namespace has a server key.
	KeyStateSet = "set"
	// KeyStateNotSet: the kernel prints a zero key; it makes a random one
	// when the first TFO listener starts.
	KeyStateNotSet = "not set"
	// KeyStateUnknown: the key could not be read (it needs root).
	KeyStateUnknown = "unknown (reading it needs root)"
)

// NamespaceKeyState tells whether the calling thread's namespace has a
// server key (set through the sysctl, or made at random by the kernel
// when the first TFO listener started), without revealing it.
func NamespaceKeyState() string {
	p, b, err := SysctlKeys()
	switch {
	case err != nil:
		return KeyStateUnknown
	case !p.IsZero() || b != nil && !b.IsZero():
		return KeyStateSet
	}
	return KeyStateNotSet
}
