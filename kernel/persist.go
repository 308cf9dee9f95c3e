package kernel

import (
	"errors"
	"fmt"
	"io/fs"
)

// PersistPath is where PersistFastOpenMode writes by default; systemd's
// sysctl.d and procps read it at boot.
const PersistPath = "/etc/sysctl.d/60-fastopen.conf"

// PersistFastOpenMode writes a sysctl.d file that sets net.ipv4.tcp_fastopen
// to m at boot. Boot-time sysctls apply to the host's namespace only.
func PersistFastOpenMode(path string, m Mode) error {
	if path == "" {
		path = PersistPath
	}
	text := fmt.Sprintf("# Written by `fastopen enable/disable`: TCP Fast Open mode %s.\n%s = %d\n", m, SysctlFastOpen, int(m))
	if err := writeFileAtomic(path, []byte(text), 0o644); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("persist %s: %w", SysctlFastOpen, ErrPrivilege)
		}
		return fmt.Errorf("persist %s: %w", SysctlFastOpen, err)
	}
	return nil
}
