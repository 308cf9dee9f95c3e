package fastopen

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// InfoOf reports what is known about TCP Fast Open on c: a *Conn from a
// Dialer, a *ServerConn from a Listener, any connection with a NetConn
// method leading to one (such as *tls.Conn), or any other TCP connection
// that exposes its socket (syscall.Conn; then Side is SideUnknown). It
// fails for nil, for a connection that is not TCP (an error matching
// ErrNotTCP), and when the socket cannot be queried (closed).
func InfoOf(c net.Conn) (Info, error) {
	switch v := c.(type) {
	case *Conn:
		return v.info()
	case *ServerConn:
		return v.info()
	case interface{ NetConn() net.Conn }:
		return InfoOf(v.NetConn())
	case syscall.Conn:
		return infoOfSyscallConn(v)
	case nil:
		return Info{}, errors.New("fastopen: InfoOf: nil connection")
	}
	return Info{}, fmt.Errorf("fastopen: InfoOf: %T: %w", c, ErrNotTCP)
}
