//go:build !linux

package fastopen

import (
	"context"
	"net"
	"time"
)

// waitHandshake returns at once: without TFO, a dial returns established.
func waitHandshake(context.Context, *net.TCPConn, time.Time) error { return nil }
