package fastopen

import (
	"errors"
	"fmt"
	"os"

	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

// SetListenerKey sets the TFO cookie key of one listening socket fd
// (TCP_FASTOPEN_KEY): primary signs new cookies; backup, if not nil, is
// also accepted when checking incoming cookies (Linux 5.8+). On kernels
// without the option (before 5.3) the error wraps sysctl.ErrUnsupported; other
// failures are *os.SyscallError values.
func SetListenerKey(fd uintptr, primary Key, backup *Key) error {
	buf := make([]byte, 0, 2*KeySize)
	buf = append(buf, primary[:]...)
	if backup != nil {
		buf = append(buf, backup[:]...)
	}
	if err := unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_KEY, string(buf)); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setsockopt TCP_FASTOPEN_KEY: %w", sysctl.ErrPrivilege)
		}
		if errors.Is(err, unix.ENOPROTOOPT) {
			return fmt.Errorf("setsockopt TCP_FASTOPEN_KEY: %w (per-listener keys need Linux 5.3+)", sysctl.ErrUnsupported)
		}
		return os.NewSyscallError("setsockopt TCP_FASTOPEN_KEY", err)
	}
	return nil
}
