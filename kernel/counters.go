package kernel

import "sort"

// CounterMeanings explains every TcpExt TCPFastOpen* counter of
// /proc/net/netstat (from the kernel's net/ipv4/tcp_fastopen.c and
// tcp_input.c, where they are incremented).
var CounterMeanings = map[string]string{
	"TCPFastOpenActive":         "client: connections whose data in the SYN was acknowledged by the server (TFO worked)",
	"TCPFastOpenActiveFail":     "client: SYN data sent but not acknowledged (server ignored it, rejected the cookie, or the SYN was retransmitted without data)",
	"TCPFastOpenPassive":        "server: connections accepted with data in the SYN (valid cookie, data passed to the application before the handshake finished)",
	"TCPFastOpenPassiveFail":    "server: SYN data refused because the cookie was invalid (e.g. another key); the connection fell back to a normal handshake",
	"TCPFastOpenListenOverflow": "server: SYN data refused because the listener's TFO queue (TCP_FASTOPEN backlog) was full",
	"TCPFastOpenCookieReqd":     "server: SYNs that asked for a cookie (client had none or an invalid one); a cookie was sent in the SYN-ACK",
	"TCPFastOpenBlackhole":      "client: times the kernel suspected a middlebox dropping TFO and switched client TFO off for a while (tcp_fastopen_blackhole_timeout_sec)",
	"TCPFastOpenPassiveAltKey":  "server: SYN data accepted with the backup key (key rotation); a cookie for the primary key was issued",
}

// CounterValue is one TFO counter with its meaning.
type CounterValue struct {
	// Name is the TcpExt counter name, e.g. "TCPFastOpenPassive".
	Name string `json:"name"`
	// Value is the counter's value (or a delta).
	Value uint64 `json:"value"`
	// Meaning explains the counter.
	Meaning string `json:"meaning"`
}

// FastOpenList returns the TcpExt TCPFastOpen* counters of c sorted by name,
// each with its meaning ("" for a counter this package does not know).
func (c Counters) FastOpenList() []CounterValue {
	fo := c.FastOpen()
	out := make([]CounterValue, 0, len(fo))
	for name, v := range fo {
		out = append(out, CounterValue{Name: name, Value: v, Meaning: CounterMeanings[name]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
