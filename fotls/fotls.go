// Package fotls helps Go TLS clients and servers get TCP Fast Open's saved
// round trip.
//
// Over TFO the client's first flight rides in the SYN; for TLS that is the
// ClientHello. A server answers it (ServerHello ... Finished) only once
// the whole ClientHello is in, so TLS 1.3 over TFO answers the first
// request in 2 round trips instead of 3 — if the ClientHello fits in the
// SYN (1420 B on a 1500-byte MTU). Go's default does not: since Go 1.24
// it carries a post-quantum hybrid key share (X25519MLKEM768, about
// 1.2 KB), making the ClientHello about 1.5 KB. The SYN then carries only
// part of it, nothing is saved, and fastopen.Info says so
// (ReasonTooBigForSYN).
//
// FitSYN returns a client configuration whose ClientHello fits: its key
// share is X25519 alone (about 280 B in all). This is a trade-off, and
// it is opt-in: connections made with it give up the post-quantum key
// exchange, so traffic recorded today could be decrypted by a future
// quantum computer. Use it where the round trip matters more than that.
//
// FitSYN also sets a ClientSessionCache, so later connections resume the
// TLS session (a PSK; the server skips its certificate). Go's crypto/tls
// sends no 0-RTT early data, so a resumed TLS 1.3 connection over TFO
// still answers in 2 round trips; resumption saves the certificate's
// bytes and its verification, and its ClientHello (about 500 B with
// X25519 alone) still fits in the SYN.
//
// ClientHelloSize measures a configuration's ClientHello, and SelfSigned
// makes a certificate for test and demo servers.
package fotls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"time"
)

// SessionCacheSize is the capacity of the ClientSessionCache FitSYN sets
// when the configuration has none.
const SessionCacheSize = 256

// FitSYN returns a clone of c (nil: a new Config) whose ClientHello fits
// in a SYN: CurvePreferences puts X25519 first and drops the post-quantum
// hybrids (X25519MLKEM768 and others), so the key share is X25519's 32
// bytes. P-256 and P-384 stay listed for servers without X25519 (they
// answer with a HelloRetryRequest, one more round trip). A nil
// ClientSessionCache becomes an LRU cache of SessionCacheSize sessions.
//
// The connections it makes have no post-quantum key exchange: see the
// package documentation.
func FitSYN(c *tls.Config) *tls.Config {
	if c == nil {
		c = &tls.Config{}
	}
	c = c.Clone()
	prefs := []tls.CurveID{tls.X25519}
	for _, id := range c.CurvePreferences {
		if classical(id) && !slices.Contains(prefs, id) {
			prefs = append(prefs, id)
		}
	}
	for _, id := range []tls.CurveID{tls.CurveP256, tls.CurveP384} {
		if !slices.Contains(prefs, id) {
			prefs = append(prefs, id)
		}
	}
	c.CurvePreferences = prefs
	if c.ClientSessionCache == nil {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(SessionCacheSize)
	}
	return c
}

// classical reports whether id is a classical (not post-quantum hybrid)
// elliptic curve group.
func classical(id tls.CurveID) bool {
	switch id {
	case tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521:
		return true
	}
	return false
}

// maxClientHello bounds what ClientHelloSize reads: a TLS record's
// largest payload plus its header.
const maxClientHello = 5 + 1<<14 + 256

// ClientHelloSize returns the size in bytes of the first flight a TLS
// client with configuration c (nil: Go's defaults) sends to serverName:
// the TLS record(s) of its ClientHello, which is what the first Write,
// and so the SYN, carries. It runs the client's handshake against an
// in-memory pipe and stops after the ClientHello. With c's session
// cache holding a session for serverName, the ClientHello offers it and
// is measured with it.
func ClientHelloSize(c *tls.Config, serverName string) (int, error) {
	if c == nil {
		c = &tls.Config{}
	}
	c = c.Clone()
	c.ServerName = serverName
	cli, srv := net.Pipe()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer cli.Close() // a client that fails before writing ends the read below
		done <- tls.Client(cli, c).HandshakeContext(ctx)
	}()
	defer func() { cli.Close(); <-done }()
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [5]byte
	if _, err := io.ReadFull(srv, hdr[:]); err != nil {
		select {
		case herr := <-done:
			done <- herr // for the deferred wait
			return 0, fmt.Errorf("fotls: no ClientHello: %w", herr)
		default:
		}
		return 0, fmt.Errorf("fotls: read the ClientHello: %w", err)
	}
	if hdr[0] != 22 { // TLS record type handshake (RFC 8446 section 5.1)
		return 0, fmt.Errorf("fotls: the client's first record has type %d, want 22 (handshake)", hdr[0])
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if 5+n > maxClientHello {
		return 0, fmt.Errorf("fotls: ClientHello record of %d bytes exceeds the TLS limit", n)
	}
	if _, err := io.CopyN(io.Discard, srv, int64(n)); err != nil {
		return 0, fmt.Errorf("fotls: read the ClientHello: %w", err)
	}
	return 5 + n, nil
}

// MaxValidity bounds SelfSigned's validFor.
const MaxValidity = 10 * 365 * 24 * time.Hour

// SelfSigned returns a self-signed ECDSA P-256 certificate for hosts (DNS
// names or IP addresses; at least one), valid from now for validFor (at
// most MaxValidity), and a pool holding it for clients to trust.
func SelfSigned(hosts []string, validFor time.Duration) (tls.Certificate, *x509.CertPool, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, nil, errors.New("fotls: SelfSigned needs at least one host name or IP address")
	}
	if validFor <= 0 || validFor > MaxValidity {
		return tls.Certificate{}, nil, fmt.Errorf("fotls: validity %v: want more than 0 and at most %v", validFor, MaxValidity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"fastopen self-signed"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
