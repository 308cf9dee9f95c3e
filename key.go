package fastopen

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a TFO cookie key (AES-128/SipHash key).
const KeySize = 16

// Errors wrapped by ParseKey and ParseKeys, so callers can tell problems
// apart with errors.Is. Their messages never contain key material.
var (
	// ErrKeyLength: the key text does not have 32 hex digits.
	ErrKeyLength = errors.New("wrong TFO key length")
	// ErrKeyNotHex: the key text has characters other than hex digits.
	ErrKeyNotHex = errors.New("TFO key is not hex")
)

// Key is a server TFO cookie key. Servers that share a key accept each
// other's cookies. Its text form is the kernel's sysctl format: four
// 32-bit words in hex joined by dashes (net.ipv4.tcp_fastopen_key).
//
// The bytes of a Key are exactly the bytes given to setsockopt
// TCP_FASTOPEN_KEY: the kernel parses each word of the sysctl text as a
// number and stores it little-endian (cpu_to_le32 in
// proc_tcp_fastopen_key), so the word "00112233" is the bytes 33 22 11 00.
// TestKeyByteOrder checks this against a running kernel.
type Key [KeySize]byte

// NewKey returns a random key from crypto/rand.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("generate TFO key: %w", err)
	}
	return k, nil
}

// IsZero reports whether every byte of the key is zero (the kernel prints
// a zero key when none is set).
func (k Key) IsZero() bool { return k == Key{} }

// String formats the key as the kernel prints it in
// net.ipv4.tcp_fastopen_key: four little-endian 32-bit words in hex.
func (k Key) String() string {
	var parts [4]string
	for i := range parts {
		parts[i] = fmt.Sprintf("%08x", binary.LittleEndian.Uint32(k[4*i:]))
	}
	return strings.Join(parts[:], "-")
}

// ParseKey parses a key in the sysctl format ("00112233-44556677-...") or
// as 32 hex digits without dashes (the same words, dashes left out).
// Errors wrap ErrKeyLength or ErrKeyNotHex and never echo the key.
func ParseKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	words := strings.Split(s, "-")
	if len(words) == 1 {
		if len(s) != 2*KeySize {
			return k, fmt.Errorf("%w: want 32 hex digits or four dash-separated groups of 8, got %d characters", ErrKeyLength, len(s))
		}
		words = []string{s[0:8], s[8:16], s[16:24], s[24:32]}
	}
	if len(words) != 4 {
		return k, fmt.Errorf("%w: want four dash-separated groups of 8 hex digits, got %d groups", ErrKeyLength, len(words))
	}
	for i, w := range words {
		if strings.ContainsFunc(w, notHex) {
			return k, fmt.Errorf("%w: group %d has characters other than 0-9 and a-f", ErrKeyNotHex, i+1)
		}
		if len(w) != 8 {
			return k, fmt.Errorf("%w: group %d has %d hex digits, want 8", ErrKeyLength, i+1, len(w))
		}
		b, _ := hex.DecodeString(w)
		binary.LittleEndian.PutUint32(k[4*i:], binary.BigEndian.Uint32(b))
	}
	return k, nil
}

func notHex(r rune) bool {
	return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
}

// ParseKeys parses the sysctl's full format: "primary" or
// "primary,backup". A newline may separate the two keys instead of the
// comma.
func ParseKeys(s string) (primary Key, backup *Key, err error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", ","))
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return primary, nil, fmt.Errorf("%w: want a primary key and at most one backup key, got %d keys", ErrKeyLength, len(parts))
	}
	if primary, err = ParseKey(parts[0]); err != nil {
		return primary, nil, fmt.Errorf("primary key: %w", err)
	}
	if len(parts) == 2 {
		b, err := ParseKey(parts[1])
		if err != nil {
			return primary, nil, fmt.Errorf("backup key: %w", err)
		}
		backup = &b
	}
	return primary, backup, nil
}

// FormatKeys formats keys as net.ipv4.tcp_fastopen_key takes them:
// "primary" or "primary,backup".
func FormatKeys(primary Key, backup *Key) string {
	if backup == nil {
		return primary.String()
	}
	return primary.String() + "," + backup.String()
}
