package relay

import (
	"math"
	"net"
	"syscall"
	"time"

	"github.com/fastopen/fastopen/internal/tcpinfo"
)

// IdleTimeoutSupported reports whether Relay.IdleTimeout works on this
// platform: Linux, whose TCP_INFO tells when a socket last moved data.
const IdleTimeoutSupported = true

// watchIdle closes the session once no data has moved on either leg for
// IdleTimeout. The kernel keeps the time since a socket last sent and
// last received data (TCP_INFO's tcpi_last_data_sent and
// tcpi_last_data_recv), so the copy needs no per-read bookkeeping and
// keeps its splice(2) path; an idle connection costs one timer, no
// goroutine. stop ends the watch.
func (s *session) watchIdle(legs ...net.Conn) (stop func()) {
	timeout := s.r.IdleTimeout
	// Armed by Reset below, once t is set: the callback uses t.
	var t *time.Timer
	t = time.AfterFunc(math.MaxInt64, func() {
		idle := timeout
		for _, c := range legs {
			d, err := sinceData(c)
			if err != nil {
				return // closed: the session is ending
			}
			idle = min(idle, d)
		}
		if idle < timeout {
			t.Reset(timeout - idle)
			return
		}
		s.mu.Lock()
		s.idle = true
		s.mu.Unlock()
		s.r.stats.idleTimeouts.Add(1)
		s.abort()
	})
	t.Reset(timeout)
	return func() { t.Stop() }
}

// sinceData is how long ago c's socket last sent or received data.
func sinceData(c net.Conn) (time.Duration, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, syscall.EINVAL
	}
	ti, err := tcpinfo.Of(sc)
	if err != nil {
		return 0, err
	}
	ms := min(ti.Last_data_sent, ti.Last_data_recv)
	return time.Duration(ms) * time.Millisecond, nil
}
