package kernel

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// KeySize is the length of a TFO cookie key (AES-128/SipHash key).
const KeySize = 16

// Key is a server TFO cookie key. Servers that share a key accept each
// other's cookies. Its text form is the kernel's sysctl format: four
// 32-bit words in hex joined by dashes (net.ipv4.tcp_fastopen_key).
type Key [KeySize]byte

// NewKey returns a random key from crypto/rand.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("generate TFO key: %w", err)
	}
	return k, nil
}

// String formats the key as the kernel prints it in
// net.ipv4.tcp_fastopen_key. The kernel reads and prints the key as four
// little-endian 32-bit words.
func (k Key) String() string {
	var parts [4]string
	for i := range parts {
		parts[i] = fmt.Sprintf("%08x", binary.LittleEndian.Uint32(k[4*i:]))
	}
	return strings.Join(parts[:], "-")
}

// ParseKey parses a key in the sysctl format ("00112233-44556677-...") or
// as 32 hex digits without dashes.
func ParseKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	words := strings.Split(s, "-")
	if len(words) == 1 {
		if len(s) != 2*KeySize {
			return k, fmt.Errorf("TFO key %q: want 32 hex digits or four dash-separated groups of 8, got %d characters", s, len(s))
		}
		words = []string{s[0:8], s[8:16], s[16:24], s[24:32]}
	}
	if len(words) != 4 {
		return k, fmt.Errorf("TFO key %q: want four dash-separated groups of 8 hex digits, got %d groups", s, len(words))
	}
	for i, w := range words {
		if len(w) != 8 {
			return k, fmt.Errorf("TFO key %q: group %d has %d hex digits, want 8", s, i+1, len(w))
		}
		b, err := hex.DecodeString(w)
		if err != nil {
			return k, fmt.Errorf("TFO key %q: group %d is not hex", s, i+1)
		}
		binary.LittleEndian.PutUint32(k[4*i:], binary.BigEndian.Uint32(b))
	}
	return k, nil
}
