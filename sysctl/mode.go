package sysctl

import (
	"fmt"
	"math/bits"
	"strings"
)

// Bit describes one bit of net.ipv4.tcp_fastopen.
type Bit struct {
	// Mask is the bit's value (0x1, 0x2, ...).
	Mask Mode `json:"mask"`
	// Name is a short label ("client", "server", ...).
	Name string `json:"name"`
	// Set tells whether the bit is set in the mode being described.
	Set bool `json:"set"`
	// Meaning explains the bit in words.
	Meaning string `json:"meaning"`
}

// knownBits lists the bits documented in the kernel's ip-sysctl.rst.
var knownBits = []Bit{
	{Mask: ModeClient, Name: "client", Meaning: "outgoing connections may send data in the SYN (TCP_FASTOPEN_CONNECT, MSG_FASTOPEN)"},
	{Mask: ModeServer, Name: "server", Meaning: "listeners with the TCP_FASTOPEN option accept data in the SYN and issue cookies"},
	{Mask: ModeClientNoCookie, Name: "client-no-cookie", Meaning: "clients send SYN data without a cookie, even to servers never seen (needs the client bit; servers must accept cookie-less SYN data)"},
	{Mask: ModeServerNoCookie, Name: "server-no-cookie", Meaning: "servers accept SYN data without a valid cookie (needs the server bit; drops the protection against spoofed SYN data)"},
	{Mask: ModeServerAllListeners, Name: "server-all-listeners", Meaning: "every listener does TFO without setting TCP_FASTOPEN (needs the server bit)"},
}

// Bits describes every documented bit of the mode, set or not, followed by
// any undocumented bit that is set.
func (m Mode) Bits() []Bit {
	out := make([]Bit, 0, len(knownBits))
	known := Mode(0)
	for _, b := range knownBits {
		b.Set = m&b.Mask != 0
		known |= b.Mask
		out = append(out, b)
	}
	for rest := uint(m &^ known); rest != 0; rest &= rest - 1 {
		mask := Mode(1) << bits.TrailingZeros(rest)
		out = append(out, Bit{Mask: mask, Name: fmt.Sprintf("unknown-%#x", int(mask)), Set: true,
			Meaning: "not a documented bit of this kernel interface; the kernel ignores or rejects it"})
	}
	return out
}

// String lists the set bits by name, e.g. "0x3 (client+server)".
func (m Mode) String() string {
	var names []string
	for _, b := range m.Bits() {
		if b.Set {
			names = append(names, b.Name)
		}
	}
	if len(names) == 0 {
		return "0x0 (off)"
	}
	return fmt.Sprintf("%#x (%s)", int(m), strings.Join(names, "+"))
}

// Role selects the client side, the server side, or both, of TFO. The
// zero value selects neither.
type Role int

// Roles for Mode.Enable and Mode.Disable.
const (
	// RoleClient is the client side: ModeClient.
	RoleClient Role = 1 << iota
	// RoleServer is the server side: ModeServer.
	RoleServer
	// RoleBoth is both sides.
	RoleBoth = RoleClient | RoleServer
)

// ParseRole parses "client", "server" or "both" (any case); the empty
// string is RoleBoth. Anything else is an error that lists those.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(s) {
	case "client":
		return RoleClient, nil
	case "server":
		return RoleServer, nil
	case "both", "":
		return RoleBoth, nil
	}
	return 0, fmt.Errorf("unknown TFO role %q: want client, server or both", s)
}

// String returns "client", "server" or "both".
func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleServer:
		return "server"
	case RoleBoth:
		return "both"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// Enable returns m with the role's main bit(s) set; other bits are kept.
func (m Mode) Enable(r Role) Mode {
	if r&RoleClient != 0 {
		m |= ModeClient
	}
	if r&RoleServer != 0 {
		m |= ModeServer
	}
	return m
}

// Disable returns m with the role's bits cleared, including its no-cookie
// and all-listeners modifiers, which mean nothing without the main bit.
func (m Mode) Disable(r Role) Mode {
	if r&RoleClient != 0 {
		m &^= ModeClient | ModeClientNoCookie
	}
	if r&RoleServer != 0 {
		m &^= ModeServer | ModeServerNoCookie | ModeServerAllListeners
	}
	return m
}
