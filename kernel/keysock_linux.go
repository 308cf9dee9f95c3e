package kernel

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// SocketKeys returns the keys a socket's cookies are checked against:
// the listener's own (SetListenerKey) or else the namespace's. An empty
// slice means no key exists yet. This reads secret material: never log it.
func SocketKeys(fd int) ([]Key, error) {
	buf := make([]byte, 2*KeySize)
	n, err := getsockoptBytes(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_KEY, buf)
	if err != nil {
		if errors.Is(err, unix.ENOPROTOOPT) {
			return nil, fmt.Errorf("read TFO key: TCP_FASTOPEN_KEY %w", ErrUnsupported)
		}
		return nil, fmt.Errorf("read TFO key: %w", err)
	}
	var keys []Key
	for off := 0; off+KeySize <= n; off += KeySize {
		var k Key
		copy(k[:], buf[off:])
		keys = append(keys, k)
	}
	return keys, nil
}

// getsockoptBytes reads a binary socket option into buf and returns its
// length.
func getsockoptBytes(fd, level, opt int, buf []byte) (int, error) {
	s, err := unix.GetsockoptString(fd, level, opt)
	if err != nil {
		return 0, err
	}
	return copy(buf, s), nil
}

// Probe opens a TCP socket in the calling thread's namespace and tries
// the TFO socket options on it. It changes nothing.
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
	s.Connect = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1) == nil
	s.Listener = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN, 1) == nil
	keys, err := SocketKeys(fd)
	s.KeyOption = err == nil
	for _, k := range keys {
		if !k.IsZero() {
			s.KeySet = true
		}
	}
	return s, nil
}
