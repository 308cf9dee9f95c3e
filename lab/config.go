package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fastopen/fastopen/sysctl"
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
const FastOpenOff sysctl.Mode = -1

// DefaultFastOpen is the net.ipv4.tcp_fastopen value of lab hosts unless
// configured otherwise: client and server enabled.
const DefaultFastOpen = sysctl.ModeClient | sysctl.ModeServer

// DefaultMTU is the MTU of the link's TUN devices unless configured.
const DefaultMTU = 1500

// MaxMTU is the largest MTU a TUN device accepts (an IP packet's length
// field is 16 bits).
const MaxMTU = 65535

// Bounds of a link, the same as the bench's and the demo's: a lab
// outside them would carry nothing useful (a packet per hour) while
// looking up.
const (
	// MaxRTT is the longest round-trip time (the sum of both directions'
	// delays), as bench.MaxRTT.
	MaxRTT = 10 * time.Second
	// MaxJitter is the largest jitter of a direction.
	MaxJitter = MaxRTT / 2
	// MinRate is the lowest bandwidth cap (other than 0, unlimited): at
	// 64 kbit/s a 1500-byte packet takes 188 ms to serialise; below, a
	// handshake alone takes seconds.
	MinRate = 64_000
)

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
	ClientFastOpen, ServerFastOpen sysctl.Mode
	// MTU of both TUN devices; zero means DefaultMTU. From 1280 to
	// MaxMTU.
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
	if c.RTT > MaxRTT {
		return configError("RTT %v is longer than %v", c.RTT, MaxRTT)
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
		if l.Delay > MaxRTT || l.DupDelay > MaxRTT {
			return configError("%s: delay %v, duplicate delay %v: at most %v", dir, l.Delay, l.DupDelay, MaxRTT)
		}
		if l.Jitter > MaxJitter {
			return configError("%s: jitter %v is larger than %v", dir, l.Jitter, MaxJitter)
		}
		if !(l.Loss >= 0 && l.Loss <= 1) { // NaN too
			return configError("%s: loss %v is not a probability: use 0 to 1, e.g. 0.01 for 1%%", dir, l.Loss)
		}
		if l.Loss == 1 {
			return configError("%s: loss 1 drops every packet: use less than 1 (to cut the link, use a blackhole fault)", dir)
		}
		if !(l.Duplicate >= 0 && l.Duplicate <= 1) {
			return configError("%s: duplicate %v is not a probability: use 0 to 1, e.g. 0.01 for 1%%", dir, l.Duplicate)
		}
		if l.Rate < 0 || l.Rate > 0 && l.Rate < MinRate {
			return configError("%s: rate %d bit/s: use 0 (unlimited) or at least %d bit/s (64kbit)", dir, l.Rate, MinRate)
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
	if c.Up.Delay+c.Down.Delay > MaxRTT {
		return configError("delays %v up and %v down: a round trip longer than %v", c.Up.Delay, c.Down.Delay, MaxRTT)
	}
	return validateFaults(c.Faults)
}

func fastOpenValue(m sysctl.Mode) sysctl.Mode {
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

// FormatRate writes a rate in bit/s as ParseRate reads it: "100mbit",
// "1.5gbit", "64kbit", "1200bit".
func FormatRate(bps int64) string {
	for _, u := range []struct {
		div  float64
		unit string
	}{{1e9, "gbit"}, {1e6, "mbit"}, {1e3, "kbit"}} {
		if float64(bps) >= u.div {
			return strconv.FormatFloat(float64(bps)/u.div, 'f', -1, 64) + u.unit
		}
	}
	return strconv.FormatInt(bps, 10) + "bit"
}
