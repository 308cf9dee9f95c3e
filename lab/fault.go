package lab

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file is the fault-rule language: the middlebox faults a lab's link
// applies (Rule: a Match, a direction and an Action), the named faults of
// the command line (ParseFault) and their checks. The link's own
// properties (delay, loss, rate, MTU) are in config.go.

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
			if d, err = time.ParseDuration(arg); err != nil || d < 0 || d > MaxRTT {
				return nil, fmt.Errorf("fault dup-syn:%s: want a delay from 0 to %v, such as dup-syn:20ms", arg, MaxRTT)
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

// validateFaults checks rules as New takes them.
func validateFaults(rules []Rule) error {
	for i, r := range rules {
		if r.Action < Drop || r.Action > Blackhole {
			return configError("fault %d (%s): unknown action %d: use Drop, StripFastOpen, Duplicate or Blackhole", i, r.Label(), r.Action)
		}
		if r.Dir < Both || r.Dir > Down {
			return configError("fault %d (%s): unknown direction %d: use Both, Up or Down", i, r.Label(), r.Dir)
		}
		if r.After < 0 || r.Delay < 0 {
			return configError("fault %q: negative count or delay", r.Label())
		}
		if r.Delay > MaxRTT {
			return configError("fault %q: delay %v is longer than %v", r.Label(), r.Delay, MaxRTT)
		}
	}
	return nil
}
