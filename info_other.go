//go:build !linux

package fastopen

import (
	"net"
	"syscall"
)

// synRecord is empty where there is no TFO: no write sends a SYN with data.
type synRecord struct{}

// writeRecordingSYN writes b; see the Linux version.
func (c *Conn) writeRecordingSYN(b []byte) (int, error) { return c.tc.Write(b) }

func (c *Conn) info() (Info, error) {
	inf := Info{Side: SideClient, Reason: ReasonUnsupported}
	if c.st.disabled {
		inf.Reason = ReasonDisabled
	}
	return inf, nil
}

func (s *ServerConn) info() (Info, error) {
	inf := Info{Side: SideServer, Reason: ReasonUnsupported}
	if s.l.disabled {
		inf.Reason = ReasonDisabled
	}
	return inf, nil
}

func synBytesAtAccept(*net.TCPConn) int { return 0 }

func infoOfSyscallConn(syscall.Conn) (Info, error) {
	return Info{Reason: ReasonUnsupported}, nil
}
