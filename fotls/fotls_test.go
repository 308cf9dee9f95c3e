package fotls_test

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/fotls"
)

// synRoom is the most a SYN carries on a 1500-byte MTU (field notes).
const synRoom = 1420

// TestClientHelloSize: Go's default ClientHello does not fit in a SYN
// (post-quantum key share); FitSYN's does.
func TestClientHelloSize(t *testing.T) {
	def, err := fotls.ClientHelloSize(nil, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	fit, err := fotls.ClientHelloSize(fotls.FitSYN(nil), "example.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ClientHello: default %d B, FitSYN %d B", def, fit)
	if def <= synRoom {
		t.Errorf("default ClientHello %d B fits in %d B: the post-quantum key share is gone from Go's defaults?", def, synRoom)
	}
	if fit > synRoom/2 {
		t.Errorf("FitSYN ClientHello %d B, want well under %d B", fit, synRoom)
	}
}

// TestClientHelloSizeBadConfig: a configuration the client refuses fails
// at once with the client's reason.
func TestClientHelloSizeBadConfig(t *testing.T) {
	start := time.Now()
	_, err := fotls.ClientHelloSize(&tls.Config{}, "")
	if err == nil || !strings.Contains(err.Error(), "ServerName") || time.Since(start) > time.Second {
		t.Fatalf("no server name: %v after %v, want the client's error at once", err, time.Since(start))
	}
}

func TestFitSYNKeepsClassicalCurves(t *testing.T) {
	base := &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.CurveP521}, ServerName: "x"}
	c := fotls.FitSYN(base)
	want := []tls.CurveID{tls.X25519, tls.CurveP521, tls.CurveP256, tls.CurveP384}
	if len(c.CurvePreferences) != len(want) {
		t.Fatalf("CurvePreferences %v, want %v", c.CurvePreferences, want)
	}
	for i := range want {
		if c.CurvePreferences[i] != want[i] {
			t.Fatalf("CurvePreferences %v, want %v", c.CurvePreferences, want)
		}
	}
	if c.ClientSessionCache == nil || c.ServerName != "x" || len(base.CurvePreferences) != 2 {
		t.Fatalf("FitSYN: cache %v, server name %q, base changed %v", c.ClientSessionCache, c.ServerName, base.CurvePreferences)
	}
}

func TestSelfSigned(t *testing.T) {
	if _, _, err := fotls.SelfSigned(nil, time.Hour); err == nil {
		t.Error("no hosts: want an error")
	}
	if _, _, err := fotls.SelfSigned([]string{"a"}, 0); err == nil {
		t.Error("zero validity: want an error")
	}
	cert, pool, err := fotls.SelfSigned([]string{"localhost", "10.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "10.0.0.1"}); err != nil {
		t.Fatalf("verify by IP: %v", err)
	}
}
