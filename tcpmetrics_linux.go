package fastopen

import (
	"net/netip"

	"github.com/fastopen/fastopen/internal/tcpmetrics"
)

// lookupPaths returns what the kernel's TCP metrics cache holds for each
// of ips, in the calling thread's network namespace (zero values where it
// holds nothing or cannot be asked).
func lookupPaths(ips ...netip.Addr) []pathCache {
	out := make([]pathCache, len(ips))
	for i, ip := range ips {
		e, err := tcpmetrics.Get(ip)
		if err != nil {
			continue
		}
		out[i] = pathCache{rtt: e.RTT, rttVar: e.RTTVar, cookie: len(e.Cookie) > 0}
	}
	return out
}
