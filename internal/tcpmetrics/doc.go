// Package tcpmetrics reads and clears the Linux kernel's TCP metrics cache
// (what `ip tcp_metrics` shows: per destination the cached RTT, the TFO
// cookie, the server's MSS and the count and age of lost SYNs with data)
// over generic netlink, with golang.org/x/sys/unix only, so that the root
// package can use it. Every call works in the calling thread's network
// namespace. Get, Dump and Delete are Linux only; elsewhere they fail with
// an error matching errors.ErrUnsupported.
package tcpmetrics

import (
	"errors"
	"net/netip"
	"time"
)

// Entry is one destination in the kernel's TCP metrics cache.
type Entry struct {
	// Dest is the remote address; Source the local address the entry was
	// recorded for (the kernel keys entries by both).
	Dest, Source netip.Addr
	// Age is the time since the kernel last updated the entry (ms
	// resolution).
	Age time.Duration
	// RTT and RTTVar are the cached round-trip time and its variation
	// (TCP_METRIC_RTT_US, TCP_METRIC_RTTVAR_US); zero when not recorded.
	RTT, RTTVar time.Duration
	// MSS is the server's MSS remembered for sizing SYN data.
	MSS uint16
	// SYNDrops counts consecutive SYNs with data that went unanswered and
	// were retransmitted without data (reset by the next TFO handshake
	// without such a loss); SYNDropAge is the time since the last one.
	SYNDrops   uint16
	SYNDropAge time.Duration
	// Cookie is the TFO cookie, empty if none is cached.
	Cookie []byte
}

// ErrNotFound is returned by Get and wrapped by Delete's error when the
// kernel holds nothing for the destination.
var ErrNotFound = errors.New("the kernel holds no TCP metrics for this destination")
