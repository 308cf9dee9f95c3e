package probe_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/bench"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// Ports of the test servers, all on the lab's server host.
const (
	portEcho  = 8000 // `fastopen serve`: echo.Server on a TFO listener
	portPlain = 8001 // echo.Server without TFO
	portKeys  = 8002 // echo.Server whose TFO key changes on every connection
	portNginx = 8080 // nginx with `listen ... fastopen=N`
	portTLS   = 8443 // a Go TLS server with TFO
	portDNS   = 5353 // knotd with tcp-fastopen
)

// serveEcho runs the echo server of `fastopen serve` with lc on the
// server host, until the test ends.
func serveEcho(t *testing.T, l *lab.Lab, lc *fastopen.ListenConfig, addr netip.AddrPort, wrap func(net.Listener) net.Listener) netip.AddrPort {
	t.Helper()
	if lc == nil {
		lc = &fastopen.ListenConfig{}
	}
	ln := labtest.Listen(t, l.Server, lc, "tcp", addr.String())
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { (&echo.Server{}).Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return addr
}

// keyChanger gives its TFO listener a new key after every accept: the
// cookie a client got is refused on its next connection.
type keyChanger struct {
	net.Listener
	t *testing.T
}

func (k keyChanger) Accept() (net.Conn, error) {
	c, err := k.Listener.Accept()
	if err != nil {
		return c, err
	}
	key, kerr := fastopen.NewKey()
	if kerr == nil {
		kerr = k.Listener.(*fastopen.Listener).SetKey(key, nil)
	}
	if kerr != nil {
		k.t.Errorf("change the listener's key: %v", kerr)
	}
	return c, nil
}

// servers starts the four servers every fault is checked against and
// returns their addresses by name.
func servers(t *testing.T, l *lab.Lab) map[string]netip.AddrPort {
	t.Helper()
	srv := l.ServerAddr(false)
	return map[string]netip.AddrPort{
		"serve": serveEcho(t, l, nil, netip.AddrPortFrom(srv, portEcho), nil),
		"notfo": serveEcho(t, l, &fastopen.ListenConfig{Disable: true}, netip.AddrPortFrom(srv, portPlain), nil),
		"keys": serveEcho(t, l, nil, netip.AddrPortFrom(srv, portKeys), func(ln net.Listener) net.Listener {
			return keyChanger{ln, t}
		}),
		"nginx": serveNginx(t, l, netip.AddrPortFrom(srv, portNginx)),
	}
}

// runDaemon starts a server program in the lab's server host, once it
// accepts on addr, and stops it when the test ends; dir's error.log is
// shown if it does not start.
func runDaemon(t *testing.T, l *lab.Lab, addr netip.AddrPort, what, dir string, name string, args ...string) {
	t.Helper()
	labtest.StartDaemon(t, l.Server, addr.String(), what, []string{filepath.Join(dir, "error.log")}, name, args...)
}

// serveNginx runs nginx with `listen ADDR fastopen=16` (bench.NginxConfig).
func serveNginx(t *testing.T, l *lab.Lab, addr netip.AddrPort) netip.AddrPort {
	t.Helper()
	labtest.StartNginx(t, l.Server, addr, func(dir string) string { return bench.NginxConfig(dir, addr, 16) })
	return addr
}

// serveKnot runs knotd with tcp-fastopen and a zone for name, answering
// over TCP on addr.
func serveKnot(t *testing.T, l *lab.Lab, addr netip.AddrPort, name string) netip.AddrPort {
	t.Helper()
	knotd := labtest.NeedCommand(t, "knotd")
	dir := t.TempDir()
	zone := fmt.Sprintf("$ORIGIN %[1]s.\n$TTL 60\n@ SOA ns hostmaster 1 60 60 60 60\n@ NS ns\nns A %[2]s\n@ A %[2]s\n", name, addr.Addr())
	if err := os.WriteFile(filepath.Join(dir, name+".zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
    rundir: %[1]s
    listen: %[2]s@%[3]d
    tcp-fastopen: on
database:
    storage: %[1]s
template:
  - id: default
    storage: %[1]s
zone:
  - domain: %[4]s
    file: %[4]s.zone
log:
  - target: stderr
    any: warning
`, dir, addr.Addr(), addr.Port(), name)
	cf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, l, addr, "knotd", dir, knotd, "-c", cf)
	return addr
}

// serveTLS runs a Go TLS server on a TFO listener that completes
// handshakes and answers nothing else.
func serveTLS(t *testing.T, l *lab.Lab, addr netip.AddrPort) netip.AddrPort {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "probe.test"}, DNSNames: []string{"probe.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ln := labtest.Listen(t, l.Server, nil, "tcp", addr.String())
	labtest.Serve(ln, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if tc.Handshake() == nil {
			tc.Read(make([]byte, 1)) // until the client closes
		}
	})
	return addr
}
