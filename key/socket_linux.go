package key

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

// SocketKeys returns the socket's own keys (fastopen.SetListenerKey), primary
// first; it is empty for a socket using the namespace's key (the kernel
// does not show that one through sockets). This reads secret material:
// never log it.
func SocketKeys(fd int) ([]fastopen.Key, error) {
	buf := make([]byte, 2*fastopen.KeySize)
	n, err := getsockoptBytes(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_KEY, buf)
	if err != nil {
		if errors.Is(err, unix.ENOPROTOOPT) {
			return nil, fmt.Errorf("read TFO key: TCP_FASTOPEN_KEY %w", sysctl.ErrUnsupported)
		}
		return nil, fmt.Errorf("read TFO key: %w", err)
	}
	var keys []fastopen.Key
	for off := 0; off+fastopen.KeySize <= n; off += fastopen.KeySize {
		var k fastopen.Key
		copy(k[:], buf[off:])
		keys = append(keys, k)
	}
	return keys, nil
}

// getsockoptBytes reads a binary socket option into buf and returns its
// length.
// (unix.GetsockoptString stops at the first zero byte, which keys have.)
func getsockoptBytes(fd, level, opt int, buf []byte) (int, error) {
	n := uint32(len(buf))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
