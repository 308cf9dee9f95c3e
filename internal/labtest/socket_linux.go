package labtest

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/fastopen/fastopen/internal/tcpinfo"
	"golang.org/x/sys/unix"
)

// tcpiOptSYNData is TCPI_OPT_SYN_DATA from include/uapi/linux/tcp.h: in
// tcpi_options, the SYN's data was acknowledged (client) or accepted
// (server).
const tcpiOptSYNData = 0x20

// setInt returns a socket Control function that sets the TCP option opt
// to v with x/sys/unix.
func setInt(opt, v int) func(_, _ string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, opt, v) }); err != nil {
			return err
		}
		return serr
	}
}

// RawListenConfig returns a plain net.ListenConfig whose listeners set
// TCP_FASTOPEN with a queue of qlen themselves, for tests of the lab and
// the trace that must not depend on package fastopen.
func RawListenConfig(qlen int) *net.ListenConfig {
	return &net.ListenConfig{Control: setInt(unix.TCP_FASTOPEN, qlen)}
}

// RawDialer returns a plain net.Dialer with the given timeout whose
// sockets set TCP_FASTOPEN_CONNECT themselves, so that the first write
// rides in the SYN when the kernel holds a cookie; for tests that must not
// depend on package fastopen.
func RawDialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: setInt(unix.TCP_FASTOPEN_CONNECT, 1)}
}

// TCPInfo reads the kernel's TCP_INFO of c, which must be a socket
// (*net.TCPConn, *fastopen.Conn, ...).
func TCPInfo(c net.Conn) (*unix.TCPInfo, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("TCP_INFO of a %T: not a socket", c)
	}
	return tcpinfo.Of(sc)
}

// SYNData reports whether info has TCPI_OPT_SYN_DATA: the data sent in the
// SYN was acknowledged (client) or the first bytes came in the SYN
// (server).
func SYNData(info *unix.TCPInfo) bool { return info.Options&tcpiOptSYNData != 0 }
