// Package tcpinfo reads a connection's TCP_INFO for the project's
// commands and packages outside the library (which reads its own).
package tcpinfo

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Of returns the kernel's TCP_INFO for the socket behind sc.
func Of(sc syscall.Conn) (*unix.TCPInfo, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var ti *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		ti, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return nil, err
	}
	if gerr != nil {
		return nil, os.NewSyscallError("getsockopt TCP_INFO", gerr)
	}
	return ti, nil
}
