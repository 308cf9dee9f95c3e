//go:build !linux

package fastopen

import (
	"net"
	"sync"
	"syscall"
)

// synRecord is empty where there is no TFO: no write sends a SYN with data.
type synRecord struct{}

// writeRecordingSYN writes b; see the Linux version.
func (c *Conn) writeRecordingSYN(tc *net.TCPConn, b []byte) (int, error) { return tc.Write(b) }

func (c *Conn) info() (Info, error) {
	return Info{Side: SideClient, Reason: c.off}, nil
}

func (s *ServerConn) info() (Info, error) {
	return Info{Side: SideServer, Reason: s.l.why}, nil
}

func synBytesAtAccept(*net.TCPConn) int { return 0 }

func infoOfSyscallConn(syscall.Conn) (Info, error) {
	return Info{Reason: ReasonUnsupported}, nil
}

func (r *synRecord) resetLocked(*synRecord) {}

// writeRecording writes b; see the Linux version.
func writeRecording(tc *net.TCPConn, _ *sync.Mutex, _ *synRecord, b []byte) (int, error) {
	return tc.Write(b)
}
