package kernel

import (
	"fmt"
	"strconv"

	"github.com/fastopen/fastopen/key"
	"github.com/fastopen/fastopen/sysctl"
)

// Report is the result of Check: what the kernel does with TFO in one
// network namespace, and what to change.
type Report struct {
	// Namespace is the namespace checked.
	Namespace Namespace `json:"namespace"`
	// Sysctl is the value of net.ipv4.tcp_fastopen.
	Sysctl int `json:"sysctl"`
	// Mode describes Sysctl in words, e.g. "0x3 (client+server)".
	Mode string `json:"mode"`
	// Bits explains every bit of Sysctl.
	Bits []sysctl.Bit `json:"bits"`
	// Client: outgoing connections can carry data in the SYN (client bit
	// set and TCP_FASTOPEN_CONNECT available).
	Client bool `json:"client"`
	// Server: listeners can accept data in the SYN (server bit set and
	// TCP_FASTOPEN available).
	Server bool `json:"server"`
	// Support is what a probe socket found.
	Support Support `json:"support"`
	// ServerKey is key.KeyStateSet, key.KeyStateNotSet or key.KeyStateUnknown; the key
	// itself is never shown.
	ServerKey string `json:"server_key"`
	// BlackholeTimeoutSec is net.ipv4.tcp_fastopen_blackhole_timeout_sec,
	// or -1 when it could not be read.
	BlackholeTimeoutSec int `json:"blackhole_timeout_sec"`
	// BlackholeEvents is TcpExt.TCPFastOpenBlackhole: how often the kernel
	// switched client TFO off after suspecting a middlebox.
	BlackholeEvents uint64 `json:"blackhole_events"`
	// ClientMaybePaused: blackhole detection is on and has fired, so the
	// kernel may currently be sending SYNs without data. It pauses client
	// TFO for timeout*2^(events-1) seconds (at most 64*timeout) after each
	// detection; the time of the last one is not exported, so this cannot
	// be certain.
	ClientMaybePaused bool `json:"client_maybe_paused"`
	// Counters are the TcpExt TCPFastOpen* counters with their meanings.
	Counters []CounterValue `json:"counters"`
	// Advice lists concrete next steps, most important first.
	Advice []string `json:"advice"`
	// Problems lists what could not be read (the rest of the report holds).
	Problems []string `json:"problems,omitempty"`
}

// Check inspects TFO in the calling thread's network namespace. It
// changes nothing. Only failing to read net.ipv4.tcp_fastopen is an
// error; other gaps are listed in Report.Problems.
func Check() (*Report, error) {
	m, err := sysctl.FastOpenMode()
	if err != nil {
		return nil, err
	}
	r := &Report{Sysctl: int(m), Mode: m.String(), Bits: m.Bits(), BlackholeTimeoutSec: -1}
	if ns, err := CurrentNamespace(); err == nil {
		r.Namespace = ns
	} else {
		r.Problems = append(r.Problems, err.Error())
	}
	if s, err := Probe(); err == nil {
		r.Support = s
	} else {
		r.Problems = append(r.Problems, err.Error())
	}
	r.ServerKey = key.NamespaceKeyState()
	if s, err := sysctl.Read(sysctl.BlackholeTimeout); err == nil {
		if v, err := strconv.Atoi(s); err == nil {
			r.BlackholeTimeoutSec = v
		}
	} else {
		r.Problems = append(r.Problems, err.Error())
	}
	c, err := ReadCounters()
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	r.Counters = c.FastOpenList()
	r.BlackholeEvents = c["TcpExt.TCPFastOpenBlackhole"]
	r.Client = m.Client() && r.Support.Connect
	r.Server = m.Server() && r.Support.Listener
	r.ClientMaybePaused = m.Client() && r.BlackholeTimeoutSec > 0 && r.BlackholeEvents > 0
	r.Advice = advise(m, r, c)
	return r, nil
}

// advise turns a report into next steps.
func advise(m sysctl.Mode, r *Report, c Counters) []string {
	var a []string
	where := "in this namespace"
	if r.Namespace.Host {
		where = "on this host"
	}
	switch {
	case !m.Client() && !m.Server():
		a = append(a, fmt.Sprintf("TFO is off %s: run `fastopen enable both` (or `fastopen enable client` / `server`)", where))
	case !m.Client():
		a = append(a, "client side off: run `fastopen enable client` so outgoing connections can send data in the SYN")
	case !m.Server():
		a = append(a, "server side off: run `fastopen enable server`; listeners must also ask for TFO (TCP_FASTOPEN, as `fastopen serve` does)")
	}
	if m.Client() && !r.Support.Connect {
		a = append(a, "this kernel lacks TCP_FASTOPEN_CONNECT (Linux 4.11+): clients must use sendto with MSG_FASTOPEN, or upgrade the kernel")
	}
	if m.Server() && !r.Support.Listener {
		a = append(a, "the TCP_FASTOPEN socket option is refused: this kernel cannot do server-side TFO")
	}
	// The kernel looks at the modifier bits only when their side's main
	// bit is set (tcp_fastopen_cookie_check and tcp_sendmsg_fastopen need
	// the client bit, tcp_try_fastopen and inet_listen the server bit).
	switch {
	case m&sysctl.ModeClientNoCookie != 0 && m.Client():
		a = append(a, fmt.Sprintf("bit 0x4 sends SYN data without a cookie to every server, which most servers drop; unless all your servers accept cookie-less TFO, run `sysctl -w %s=%d`", sysctl.FastOpen, int(m&^sysctl.ModeClientNoCookie)))
	case m&sysctl.ModeClientNoCookie != 0:
		a = append(a, "bit 0x4 (client-no-cookie) has no effect while the client bit 0x1 is off; it takes effect with `fastopen enable client`")
	}
	switch {
	case m&sysctl.ModeServerNoCookie != 0 && m.Server():
		a = append(a, fmt.Sprintf("bit 0x200 accepts SYN data without a cookie: spoofed or replayed SYNs reach the application; only for trusted networks, else run `sysctl -w %s=%d`", sysctl.FastOpen, int(m&^sysctl.ModeServerNoCookie)))
	case m&sysctl.ModeServerNoCookie != 0:
		a = append(a, "bit 0x200 (server-no-cookie) has no effect while the server bit 0x2 is off; it takes effect with `fastopen enable server`")
	}
	switch {
	case m&sysctl.ModeServerAllListeners != 0 && m.Server():
		a = append(a, "bit 0x400 turns TFO on for every listener: each application must tolerate a replayed first request (make it idempotent)")
	case m&sysctl.ModeServerAllListeners != 0:
		a = append(a, "bit 0x400 (server-all-listeners) has no effect while the server bit 0x2 is off; it takes effect with `fastopen enable server`")
	}
	if m.Server() && r.ServerKey == key.KeyStateNotSet {
		a = append(a, "no server key yet: the kernel picks a random one when the first TFO listener starts; servers behind one address must share a key (`fastopen key new`, `fastopen serve --key-file`, or `fastopen key rotate` for a fleet)")
	}
	if r.ClientMaybePaused {
		a = append(a, fmt.Sprintf("the kernel detected %d TFO blackhole(s) (a middlebox dropping SYN data): after each it sends SYNs without data for %ds, doubling per event up to 64x; find the middlebox, or set %s=0 to stop the pausing", r.BlackholeEvents, r.BlackholeTimeoutSec, sysctl.BlackholeTimeout))
	}
	if fail := c["TcpExt.TCPFastOpenPassiveFail"]; fail > 0 {
		a = append(a, fmt.Sprintf("%d SYNs carried cookies this server did not accept: if several servers share an address, give them the same key (`fastopen serve --key-file`, `fastopen key rotate`)", fail))
	}
	if ov := c["TcpExt.TCPFastOpenListenOverflow"]; ov > 0 {
		a = append(a, fmt.Sprintf("%d SYNs with data found a full TFO queue: raise the listener's TFO backlog", ov))
	}
	if act, fail := c["TcpExt.TCPFastOpenActive"], c["TcpExt.TCPFastOpenActiveFail"]; fail > 0 && fail >= act {
		a = append(a, fmt.Sprintf("%d client SYNs with data were not acknowledged (vs %d that were): the servers ignore TFO or something on the path strips it; `fastopen cookies flush` forgets stale cookies", fail, act))
	}
	if len(a) == 0 {
		a = append(a, fmt.Sprintf("TFO is ready as client and server %s; nothing to change", where))
	}
	return a
}
