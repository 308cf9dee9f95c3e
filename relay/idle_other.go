//go:build !linux

package relay

import (
	"net"
)

// idleSupported: only Linux's TCP_INFO tells when a socket last moved
// data; Relay.check refuses IdleTimeout elsewhere.
const idleSupported = false

func (s *session) watchIdle(...net.Conn) (stop func()) { return func() {} }
