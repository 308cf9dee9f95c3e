package cookie

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"time"
)

// Cookie is one entry of the kernel's TCP metrics cache (the client side's
// per-destination memory) that holds a TFO cookie.
type Cookie struct {
	// Dest is the server address the cookie was issued by.
	Dest netip.Addr `json:"dest"`
	// Source is the local address the connection came from (cookies are
	// computed over both addresses).
	Source netip.Addr `json:"source,omitzero"`
	// Cookie is the cookie itself; empty if the kernel only remembers the
	// server's MSS or SYN drops.
	Cookie []byte `json:"-"`
	// CookieHex is Cookie in hex, for JSON.
	CookieHex string `json:"cookie"`
	// MSS is the server's MSS remembered for sizing SYN data.
	MSS uint16 `json:"mss,omitempty"`
	// SYNDrops counts SYNs with data that went unanswered (the kernel stops
	// sending data to this server for a while after them).
	SYNDrops uint16 `json:"syn_drops,omitempty"`
	// Age is the time since the entry was last updated (millisecond
	// resolution). JSON: nanoseconds.
	Age time.Duration `json:"age_ns"`
}

func (c *Cookie) fill() { c.CookieHex = hex.EncodeToString(c.Cookie) }

// ErrNoCookie is wrapped by the error Flush returns when the kernel
// holds nothing for the destination (nothing to flush).
var ErrNoCookie = errors.New("the kernel holds no metrics or cookie for this destination")
