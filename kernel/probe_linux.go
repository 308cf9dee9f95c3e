package kernel

import (
	"fmt"

	"github.com/fastopen/fastopen/key"
	"golang.org/x/sys/unix"
)

// Probe opens a TCP socket in the calling thread's namespace and reads
// the TFO socket options on it. It changes nothing and needs no
// privileges; it fails only if no TCP socket can be opened.
func Probe() (Support, error) {
	var s Support
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return s, fmt.Errorf("probe socket: %w", err)
		}
	}
	defer unix.Close(fd)
	// Only getsockopt: setting TCP_FASTOPEN would make the kernel create
	// the namespace's random server key.
	_, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT)
	s.Connect = err == nil
	_, err = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN)
	s.Listener = err == nil
	_, err = key.SocketKeys(fd)
	s.KeyOption = err == nil
	return s, nil
}
