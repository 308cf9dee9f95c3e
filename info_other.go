//go:build !linux

package fastopen

import (
	"net"
	"syscall"
)

func (c *Conn) info() (Info, error) {
	return Info{Side: SideClient, Reason: c.st.off}, nil
}

func (s *ServerConn) info() (Info, error) {
	return Info{Side: SideServer, Reason: s.l.why}, nil
}

func synBytesAtAccept(*net.TCPConn) int { return 0 }

func infoOfSyscallConn(syscall.Conn) (Info, error) {
	return Info{Reason: ReasonUnsupported}, nil
}
