//go:build !linux

package relay

import (
	"net"
)

// IdleTimeoutSupported reports whether Relay.IdleTimeout works on this
// platform: only Linux's TCP_INFO tells when a socket last moved data, so
// Serve refuses IdleTimeout elsewhere.
const IdleTimeoutSupported = false

func (s *session) watchIdle(...net.Conn) (stop func()) { return func() {} }
