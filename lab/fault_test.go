package lab

import (
	"strings"
	"testing"
)

// FuzzParseFault: any spelling gives rules that New accepts, or an error
// naming what is accepted; never a panic.
func FuzzParseFault(f *testing.F) {
	for _, s := range []string{"drop-syn-data", "strip-tfo", "strip-tfo-syn", "strip-tfo-synack", "drop-synack-cookie",
		"dup-syn", "dup-syn:20ms", "dup-syn:-1s", "dup-syn:1h", "blackhole:10", "blackhole-up:0", "blackhole-down:x",
		"blackhole", "strip-tfo:1", " drop-syn-data ", "", ":", "nosuch"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ParseFault(s)
		if err != nil {
			if rules != nil {
				t.Fatalf("%q: rules %v with error %v", s, rules, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "fault") {
				t.Fatalf("%q: error %q does not say it is about a fault", s, msg)
			}
			return
		}
		if len(rules) == 0 || len(rules) > 2 {
			t.Fatalf("%q: %d rules", s, len(rules))
		}
		if err := (Config{Faults: rules}).Validate(); err != nil {
			t.Fatalf("%q: parsed rules %v are refused: %v", s, rules, err)
		}
	})
}
