package key

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fastopen/fastopen"
)

// FuzzParseKeyFile: any content gives keys or one of the documented
// errors, never a panic; keys it accepts format back to text that parses
// to the same keys; an error never shows the content.
func FuzzParseKeyFile(f *testing.F) {
	for _, s := range []string{
		"00112233-44556677-8899aabb-ccddeeff\n",
		"# rotated\n00112233-44556677-8899aabb-ccddeeff\n0123abcd-4567ef01-89abcdef-01234567\n",
		"00112233445566778899AABBCCDDEEFF,0123abcd-4567ef01-89abcdef-01234567",
		"", "#only\n\n", "zz", "0-0-0-0", ",,,", "00112233-44556677-8899aabb-ccddeeff,",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, b, err := parseKeyFile(data)
		if err != nil {
			if !errors.Is(err, ErrKeyFileEmpty) && !errors.Is(err, fastopen.ErrKeyLength) && !errors.Is(err, fastopen.ErrKeyNotHex) {
				t.Fatalf("undocumented error %v", err)
			}
			if len(data) >= 8 && strings.Contains(err.Error(), string(data)) {
				t.Fatalf("error shows the content: %v", err)
			}
			return
		}
		p2, b2, err := parseKeyFile([]byte(fastopen.FormatKeys(p, b)))
		if err != nil || p2 != p || (b == nil) != (b2 == nil) || b != nil && *b != *b2 {
			t.Fatalf("keys do not round-trip: %v", err)
		}
	})
}

// FuzzParseSecret: any content is accepted only if, trimmed, it meets
// MinSecretSize and MinSecretDistinct; else the error wraps
// ErrKeyFileEmpty or ErrSecretWeak.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{
		"c2hhcmVkIGJ5IHRoZSB3aG9sZSBmbGVldA==\r\n", "0123456789abcdef", strings.Repeat("a", 24),
		strings.Repeat("\x00", 1000), "", " \t\n", "abababababababababab", "short",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSecret(data)
		if err != nil {
			if !errors.Is(err, ErrKeyFileEmpty) && !errors.Is(err, ErrSecretWeak) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if !bytes.Equal(s, bytes.TrimSpace(data)) {
			t.Fatal("the secret is not the trimmed content")
		}
		if err := (Rotation{Secret: s, Interval: 24 * 3600e9}).Validate(); err != nil {
			t.Fatalf("parseSecret accepted what Validate refuses: %v", err)
		}
	})
}
