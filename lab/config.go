package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fastopen/fastopen/kernel"
)

// Dir is a direction on the link between the client and the server.
type Dir int

const (
	// Both matches packets in either direction (rules only).
	Both Dir = iota
	// Up is client → server.
	Up
	// Down is server → client.
	Down
)

// String returns "up", "down" or "both".
func (d Dir) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "both"
}

// MarshalText spells the direction as String does, for JSON.
func (d Dir) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "up", "down" or "both".
func (d *Dir) UnmarshalText(b []byte) error {
	for _, v := range []Dir{Both, Up, Down} {
		if string(b) == v.String() {
			*d = v
			return nil
		}
	}
	return fmt.Errorf("lab: unknown direction %q: want up, down or both", b)
}

// FastOpenOff is a Config.ClientFastOpen / ServerFastOpen value that
// writes 0 to net.ipv4.tcp_fastopen (zero means the lab default, 3).
const FastOpenOff kernel.Mode = -1

// DefaultFastOpen is the net.ipv4.tcp_fastopen value of lab hosts unless
// configured otherwise: client and server enabled.
const DefaultFastOpen = kernel.ModeClient | kernel.ModeServer

// DefaultMTU is the MTU of the link's TUN devices unless configured.
const DefaultMTU = 1500

// MaxMTU is the largest MTU a TUN device accepts (an IP packet's length
// field is 16 bits).
const MaxMTU = 65535

// DefaultQueueLimit bounds the packets waiting on one direction of the
// link; more are tail-dropped and counted in DirStats.QueueDrops.
const DefaultQueueLimit = 4096

// Addresses of the two hosts: a point-to-point link, only ever configured
// inside the lab's own namespaces.
var (
	ClientIPv4 = netip.MustParseAddr("10.200.0.1")
	ServerIPv4 = netip.MustParseAddr("10.200.0.2")
	ClientIPv6 = netip.MustParseAddr("fd00:f0::1")
	ServerIPv6 = netip.MustParseAddr("fd00:f0::2")
)

// TunName is the name of the TUN device in each host.
const TunName = "fo0"

// Config describes a lab: two hosts, "client" and "server", joined by an
// emulated link. Their namespaces are named Prefix + "client"/"server" +
// pid + random suffix, so parallel labs never collide.
type Config struct {
	// RTT sets the one-way delay of each direction whose Delay is zero to
	// RTT/2.
	RTT time.Duration
	// Up (client → server) and Down (server → client) are the two
	// directions' properties.
	Up, Down LinkConfig
	// Faults are middlebox rules applied to every packet, in order: each
	// rule whose match and direction fit acts on the packet (so a SYN can
	// be stripped of its TFO option and then replayed), until one drops
	// it.
	Faults []Rule
	// ClientFastOpen and ServerFastOpen are written to net.ipv4.tcp_fastopen
	// in each host. Zero means DefaultFastOpen (3); FastOpenOff means 0.
	ClientFastOpen, ServerFastOpen kernel.Mode
	// MTU of both TUN devices; zero means DefaultMTU. At most MaxMTU.
	MTU int
	// Seed seeds the random loss, jitter and duplication; zero picks one
	// from the clock. Stats reports the seed used.
	Seed uint64
	// SpinThreshold is how long before a packet's due time the forwarder
	// stops sleeping and spins; zero means 50µs. Larger is more exact and
	// burns more CPU.
	SpinThreshold time.Duration
	// NoRealtime keeps the forwarder's threads at normal priority. By
	// default they ask for SCHED_FIFO (granted to root), which keeps the
	// delays exact while other processes load the CPUs.
	NoRealtime bool
}

// LinkConfig is one direction of the link.
type LinkConfig struct {
	// Delay is the one-way delay; zero means Config.RTT/2.
	Delay time.Duration
	// Jitter adds a random delay, uniform in [-Jitter, +Jitter] (never
	// below zero in total). Packets keep their order unless Reorder is set.
	Jitter time.Duration
	// Reorder lets jitter reorder packets.
	Reorder bool
	// Loss is the probability (0..1) of dropping each packet at random.
	Loss float64
	// DropNth lists packet numbers (1 = the first packet sent in this
	// direction) to drop.
	DropNth []int
	// Duplicate is the probability (0..1) of sending a packet twice; the
	// copy follows DupDelay after the original.
	Duplicate float64
	// DupDelay is the extra delay of a duplicate (see also the Duplicate
	// fault action).
	DupDelay time.Duration
	// Rate caps the bandwidth in bits per second (0 = unlimited): packets
	// are serialised one after the other, and wait in the queue.
	Rate int64
	// QueueLimit bounds the queue in packets; zero means DefaultQueueLimit.
	QueueLimit int
}

// Action is what a fault rule does to a matching packet.
type Action int

const (
	// Drop discards the packet.
	Drop Action = iota
	// StripFastOpen replaces the TFO option (kind 34, and the experimental
	// kind 254 with magic 0xF989) with NOPs and fixes the TCP checksum.
	StripFastOpen
	// Duplicate sends the packet and a copy Rule.Delay later (a replayed
	// packet, e.g. a SYN with data).
	Duplicate
	// Blackhole passes the first Rule.After matching packets and drops all
	// later ones.
	Blackhole
)

// String names the action as the CLI spells it ("drop", "strip-tfo", ...).
func (a Action) String() string {
	switch a {
	case Drop:
		return "drop"
	case StripFastOpen:
		return "strip-tfo"
	case Duplicate:
		return "duplicate"
	case Blackhole:
		return "blackhole"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Match selects packets. Every condition that is set must hold; the zero
// Match selects every packet. Any TCP condition excludes non-TCP packets.
type Match struct {
	// SYN: a SYN without ACK (a connection request).
	SYN bool
	// SYNACK: a SYN with ACK (the server's answer).
	SYNACK bool
	// Payload: the TCP segment carries data.
	Payload bool
	// FastOpen: the TFO option (kind 34 or 254/0xF989) is present.
	FastOpen bool
	// Cookie: the TFO option carries a cookie (not just a request).
	Cookie bool
	// Port: the source or destination port is this one (0 = any).
	Port uint16
}

func (m Match) tcp() bool {
	return m.SYN || m.SYNACK || m.Payload || m.FastOpen || m.Cookie || m.Port != 0
}

// String describes the match, e.g. "syn+payload".
func (m Match) String() string {
	var p []string
	if m.SYN {
		p = append(p, "syn")
	}
	if m.SYNACK {
		p = append(p, "synack")
	}
	if m.Payload {
		p = append(p, "payload")
	}
	if m.FastOpen {
		p = append(p, "tfo-option")
	}
	if m.Cookie {
		p = append(p, "cookie")
	}
	if m.Port != 0 {
		p = append(p, "port "+strconv.Itoa(int(m.Port)))
	}
	if len(p) == 0 {
		return "any"
	}
	return strings.Join(p, "+")
}

// Rule is a middlebox fault: packets in Dir that fit Match get Action.
type Rule struct {
	// Name labels the rule in Stats; empty means a generated description.
	Name string
	// Dir limits the rule to one direction (Both = either).
	Dir Dir
	// Match selects the packets.
	Match Match
	// Action is what happens to them.
	Action Action
	// Delay is the copy's extra delay for Duplicate.
	Delay time.Duration
	// After is the number of matching packets Blackhole lets through.
	After int
}

// Label is the rule's Name, or a description built from its fields.
func (r Rule) Label() string {
	if r.Name != "" {
		return r.Name
	}
	s := r.Action.String() + " " + r.Match.String()
	if r.Dir != Both {
		s += " " + r.Dir.String()
	}
	switch r.Action {
	case Duplicate:
		s += " +" + r.Delay.String()
	case Blackhole:
		s += " after " + strconv.Itoa(r.After)
	}
	return s
}

// DropSYNData drops client SYNs that carry data (a middlebox that does not
// understand TFO). The kernel retransmits the SYN without data.
func DropSYNData() Rule {
	return Rule{Name: "drop-syn-data", Dir: Up, Match: Match{SYN: true, Payload: true}, Action: Drop}
}

// StripSYNFastOpen removes the TFO option from client SYNs.
func StripSYNFastOpen() Rule {
	return Rule{Name: "strip-tfo-syn", Dir: Up, Match: Match{SYN: true, FastOpen: true}, Action: StripFastOpen}
}

// StripSYNACKFastOpen removes the TFO option (the cookie) from the
// server's SYN-ACKs.
func StripSYNACKFastOpen() Rule {
	return Rule{Name: "strip-tfo-synack", Dir: Down, Match: Match{SYNACK: true, FastOpen: true}, Action: StripFastOpen}
}

// DropSYNACKCookie drops SYN-ACKs that carry a TFO cookie.
func DropSYNACKCookie() Rule {
	return Rule{Name: "drop-synack-cookie", Dir: Down, Match: Match{SYNACK: true, Cookie: true}, Action: Drop}
}

// DuplicateSYN replays every client SYN delay after the original.
func DuplicateSYN(delay time.Duration) Rule {
	return Rule{Name: "dup-syn", Dir: Up, Match: Match{SYN: true}, Action: Duplicate, Delay: delay}
}

// BlackholeAfter drops every packet in dir after the first n.
func BlackholeAfter(dir Dir, n int) Rule {
	return Rule{Name: "blackhole-" + dir.String() + "-after-" + strconv.Itoa(n), Dir: dir, Action: Blackhole, After: n}
}

// BlackholeFastOpen passes the first n client SYNs that carry the TFO
// option and silently drops every later one (cookie request or cookie with
// data): a middlebox that starts eating TFO. The kernel retransmits a SYN
// without the option, which passes.
func BlackholeFastOpen(n int) Rule {
	return Rule{Name: "blackhole-tfo-after-" + strconv.Itoa(n), Dir: Up, Match: Match{SYN: true, FastOpen: true}, Action: Blackhole, After: n}
}

// DropPort drops every packet the client sends to port: a server behind a
// firewall that silently drops, which never answers a SYN.
func DropPort(port uint16) Rule {
	return Rule{Name: "drop-port-" + strconv.Itoa(int(port)), Dir: Up, Match: Match{Port: port}, Action: Drop}
}

// FaultNames lists the spellings ParseFault accepts.
const FaultNames = "drop-syn-data, strip-tfo (SYN and SYN-ACK), strip-tfo-syn, strip-tfo-synack, drop-synack-cookie, dup-syn[:DELAY], blackhole[-up|-down]:N, blackhole-tfo:N"

// ParseFault turns a command-line fault spelling (see FaultNames) into
// rules: one, or two for strip-tfo and blackhole (one per direction).
// dup-syn's delay defaults to 10ms. An unknown or malformed spelling is an
// error that lists what is accepted.
func ParseFault(s string) ([]Rule, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	noArg := func(r ...Rule) ([]Rule, error) {
		if hasArg {
			return nil, fmt.Errorf("fault %q takes no argument", name)
		}
		return r, nil
	}
	switch name {
	case "drop-syn-data":
		return noArg(DropSYNData())
	case "strip-tfo":
		return noArg(StripSYNFastOpen(), StripSYNACKFastOpen())
	case "strip-tfo-syn":
		return noArg(StripSYNFastOpen())
	case "strip-tfo-synack":
		return noArg(StripSYNACKFastOpen())
	case "drop-synack-cookie":
		return noArg(DropSYNACKCookie())
	case "dup-syn":
		d := 10 * time.Millisecond
		if hasArg {
			var err error
			if d, err = time.ParseDuration(arg); err != nil || d < 0 {
				return nil, fmt.Errorf("fault dup-syn:%s: want a delay such as dup-syn:20ms", arg)
			}
		}
		return []Rule{DuplicateSYN(d)}, nil
	case "blackhole-tfo":
		n, err := strconv.Atoi(arg)
		if !hasArg || err != nil || n < 0 {
			return nil, fmt.Errorf("fault blackhole-tfo needs a count of TFO SYNs to let through, e.g. blackhole-tfo:1")
		}
		return []Rule{BlackholeFastOpen(n)}, nil
	case "blackhole", "blackhole-up", "blackhole-down":
		n, err := strconv.Atoi(arg)
		if !hasArg || err != nil || n < 0 {
			return nil, fmt.Errorf("fault %s needs a packet count, e.g. %s:10", name, name)
		}
		switch name {
		case "blackhole-up":
			return []Rule{BlackholeAfter(Up, n)}, nil
		case "blackhole-down":
			return []Rule{BlackholeAfter(Down, n)}, nil
		}
		return []Rule{BlackholeAfter(Up, n), BlackholeAfter(Down, n)}, nil
	}
	return nil, fmt.Errorf("unknown fault %q; known faults: %s", s, FaultNames)
}

// ErrConfig is matched (errors.Is) by the errors New and Validate return
// for a bad configuration (as opposed to a failure to build the lab).
// Their text says which field is wrong and what is accepted.
var ErrConfig = errors.New("bad lab configuration")

// configErr is a specific configuration error; it matches ErrConfig.
type configErr string

func (e configErr) Error() string        { return "lab: " + string(e) }
func (e configErr) Is(target error) bool { return target == ErrConfig }

// configError formats a configErr.
func configError(format string, a ...any) error {
	return configErr(fmt.Sprintf(format, a...))
}

// Validate reports whether New would accept c, without building anything;
// its errors wrap ErrConfig.
func (c Config) Validate() error {
	c.Up.DropNth = append([]int(nil), c.Up.DropNth...)
	c.Down.DropNth = append([]int(nil), c.Down.DropNth...)
	return c.validate()
}

// validate checks a configuration and fills in defaults.
func (c *Config) validate() error {
	if c.RTT < 0 {
		return configError("RTT %v is negative: use 0 or more (0 with no Delay set means no delay)", c.RTT)
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < 1280 || c.MTU > MaxMTU {
		return configError("MTU %d out of range: use 1280 (the IPv6 minimum) to %d", c.MTU, MaxMTU)
	}
	if c.SpinThreshold == 0 {
		c.SpinThreshold = 50 * time.Microsecond
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	for i, l := range []*LinkConfig{&c.Up, &c.Down} {
		dir := [...]string{"up (client → server)", "down (server → client)"}[i]
		if l.Delay == 0 {
			l.Delay = c.RTT / 2
		}
		if l.Delay < 0 || l.Jitter < 0 || l.DupDelay < 0 {
			return configError("%s: delay %v, jitter %v, duplicate delay %v: none may be negative", dir, l.Delay, l.Jitter, l.DupDelay)
		}
		if !(l.Loss >= 0 && l.Loss <= 1) { // NaN too
			return configError("%s: loss %v is not a probability: use 0 to 1, e.g. 0.01 for 1%%", dir, l.Loss)
		}
		if !(l.Duplicate >= 0 && l.Duplicate <= 1) {
			return configError("%s: duplicate %v is not a probability: use 0 to 1, e.g. 0.01 for 1%%", dir, l.Duplicate)
		}
		if l.Rate < 0 {
			return configError("%s: rate %d bit/s is negative", dir, l.Rate)
		}
		if l.QueueLimit == 0 {
			l.QueueLimit = DefaultQueueLimit
		}
		if l.QueueLimit < 0 {
			return configError("%s: queue limit %d is negative", dir, l.QueueLimit)
		}
		for _, n := range l.DropNth {
			if n < 1 {
				return configError("%s: DropNth %d: packets are numbered from 1", dir, n)
			}
		}
	}
	for i, r := range c.Faults {
		if r.Action < Drop || r.Action > Blackhole {
			return configError("fault %d (%s): unknown action %d: use Drop, StripFastOpen, Duplicate or Blackhole", i, r.Label(), r.Action)
		}
		if r.Dir < Both || r.Dir > Down {
			return configError("fault %d (%s): unknown direction %d: use Both, Up or Down", i, r.Label(), r.Dir)
		}
		if r.After < 0 || r.Delay < 0 {
			return configError("fault %q: negative count or delay", r.Label())
		}
	}
	return nil
}

func fastOpenValue(m kernel.Mode) kernel.Mode {
	switch m {
	case 0:
		return DefaultFastOpen
	case FastOpenOff:
		return 0
	}
	return m
}

// ParseRate reads a bandwidth in bits per second: a number with an
// optional k, m or g suffix (decimal), optionally followed by "bit" or
// "bps": "100mbit", "1g", "250000". Negative rates and rates above 1
// Tbit/s are errors.
func ParseRate(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "bit"), "bps")
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"):
		mult = 1e3
	case strings.HasSuffix(t, "m"):
		mult = 1e6
	case strings.HasSuffix(t, "g"):
		mult = 1e9
	}
	if mult != 1 {
		t = t[:len(t)-1]
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1e12 {
		return 0, fmt.Errorf("bad rate %q: want bits per second such as 100mbit, 1gbit or 500k", s)
	}
	return int64(v * mult), nil
}
