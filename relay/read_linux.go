package relay

import (
	"errors"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// readNow reads into buf what has already arrived on c, without waiting
// and without a deadline: one read(2) on the non-blocking socket. ok is
// false when nothing has arrived yet (EAGAIN) or c is not a plain TCP
// socket (a wrapper whose bytes differ); the caller then waits with a
// deadline. n == 0 with ok and no error is EOF.
func readNow(c net.Conn, buf []byte) (n int, ok bool, err error) {
	tc, isTCP := tcpConnOf(c).(*net.TCPConn)
	if !isTCP || len(buf) == 0 {
		return 0, false, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if !errors.Is(rerr, unix.EINTR) {
				return true
			}
		}
	}); err != nil {
		return 0, true, err
	}
	switch {
	case errors.Is(rerr, unix.EAGAIN):
		return 0, false, nil
	case rerr != nil:
		return 0, true, &net.OpError{Op: "read", Net: "tcp", Source: tc.LocalAddr(), Addr: tc.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	}
	return n, true, nil
}
