package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// Kind is the first flight a probe sends on each connection: what a
// real client of the service would send first. None changes anything on
// the server.
type Kind string

// Kinds of first flight.
const (
	// Raw sends RawData and waits for any answer (an echo server, or any
	// service that answers unknown input).
	Raw Kind = "raw"
	// HTTP sends `HEAD / HTTP/1.1` with the host's name and waits for the
	// status line.
	HTTP Kind = "http"
	// TLS sends a ClientHello small enough for the SYN (crypto/tls with an
	// X25519-only curve preference, SNI = the host's name) and waits for
	// the server's first flight; no request follows. Certificates are not
	// checked: the probe measures the transport, it trusts nothing it
	// receives.
	TLS Kind = "tls"
	// DNS sends a query over TCP for the host's own name (type A; PTR of
	// the address when the host is an IP literal) and waits for the answer.
	DNS Kind = "dns"
)

// RawData is what a Raw probe sends.
const RawData = "fastopen probe\r\n"

// ParseKind reads a Kind: raw, http, tls or dns.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case Raw, HTTP, TLS, DNS:
		return k, nil
	}
	return "", fmt.Errorf("unknown first flight %q: want raw, http, tls or dns", s)
}

// maxAnswer bounds what a probe reads of an answer.
const maxAnswer = 64 << 10

// errBadAnswer marks an answer that is not what the protocol expects.
var errBadAnswer = errors.New("unexpected answer")

// exchange sends k's first flight on c in a single Write (so that all of
// it can ride in the SYN) and waits for the first bytes of the answer. It
// returns the time, from start, of the answer's first byte. host is the
// name probed, port its port.
func (k Kind) exchange(ctx context.Context, c net.Conn, host string, port uint16, start time.Time) (time.Duration, error) {
	fc := &firstRead{Conn: c}
	switch k {
	case TLS:
		cfg := &tls.Config{
			ServerName:         host,
			CurvePreferences:   []tls.CurveID{tls.X25519},
			InsecureSkipVerify: true, // measuring the transport; nothing received is trusted
			MinVersion:         tls.VersionTLS12,
		}
		if _, err := netip.ParseAddr(host); err == nil {
			cfg.ServerName = "" // no SNI for an address (RFC 6066)
		}
		err := tls.Client(fc, cfg).HandshakeContext(ctx)
		if fc.first.IsZero() {
			return 0, err
		}
		// The server's first flight came; a failed handshake after it
		// (an alert, not TLS at all) is reported with its timing.
		return fc.first.Sub(start), err
	case DNS:
		q, id, err := dnsQuery(host)
		if err != nil {
			return 0, err
		}
		if _, err := fc.Write(q); err != nil {
			return 0, err
		}
		var l [2]byte
		if _, err := io.ReadFull(fc, l[:]); err != nil {
			return 0, err
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(fc, b); err != nil {
			return fc.first.Sub(start), err
		}
		var m dns.Msg
		if err := m.Unpack(b); err != nil || m.Id != id || !m.Response {
			return fc.first.Sub(start), fmt.Errorf("%w: not a DNS response to the query (id %d)", errBadAnswer, id)
		}
		return fc.first.Sub(start), nil
	}
	msg := []byte(RawData)
	if k == HTTP {
		h := host
		if port != 80 {
			h = net.JoinHostPort(host, strconv.Itoa(int(port)))
		} else if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
			h = "[" + host + "]"
		}
		msg = fmt.Appendf(nil, "HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: fastopen-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n", h)
	}
	if _, err := fc.Write(msg); err != nil {
		return 0, err
	}
	buf := make([]byte, 512)
	n, err := fc.Read(buf)
	if n == 0 {
		return 0, err
	}
	if k == HTTP && !bytes.HasPrefix(buf[:n], []byte("HTTP/")) {
		return fc.first.Sub(start), fmt.Errorf("%w: not an HTTP response (%q)", errBadAnswer, buf[:min(n, 32)])
	}
	return fc.first.Sub(start), nil
}

// dnsQuery builds a DNS-over-TCP query (length-prefixed, RFC 7766) for
// host: type A for a name, PTR for an address.
func dnsQuery(host string) ([]byte, uint16, error) {
	m := new(dns.Msg)
	if a, err := netip.ParseAddr(host); err == nil {
		name, err := dns.ReverseAddr(a.String())
		if err != nil {
			return nil, 0, err
		}
		m.SetQuestion(name, dns.TypePTR)
	} else {
		m.SetQuestion(dns.Fqdn(host), dns.TypeA)
	}
	b, err := m.Pack()
	if err != nil {
		return nil, 0, fmt.Errorf("build DNS query for %q: %w", host, err)
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
	return append(out, b...), m.Id, nil
}

// firstRead remembers when the first byte arrived, and bounds reads.
type firstRead struct {
	net.Conn
	first time.Time
	read  int
}

func (f *firstRead) Read(b []byte) (int, error) {
	if f.read >= maxAnswer {
		return 0, fmt.Errorf("%w: answer longer than %d bytes", errBadAnswer, maxAnswer)
	}
	n, err := f.Conn.Read(b)
	if n > 0 && f.first.IsZero() {
		f.first = time.Now()
	}
	f.read += n
	return n, err
}
