package fastopen_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// These tests probe the corners of the client and server connections:
// goroutines racing on a lazy connection, deadlines before the first write,
// dials to a server that never answers, wrappers, and leaks.

// bound is how long any single operation below may take before the test
// calls it stuck. It is generous: the operations finish in milliseconds.
const bound = 5 * time.Second

// within runs fn and fails the test if it does not return within bound.
func within[T any](t *testing.T, what string, fn func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(bound):
		t.Fatalf("%s: still blocked after %v", what, bound)
	}
	var zero T
	return zero
}

// waitSignal returns a channel that receives once when a Read or Write
// (op) of a lazy connection first blocks waiting for the handshake; the
// hook is removed when the test ends.
func waitSignal(t *testing.T, op string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	var once sync.Once
	fastopen.SetTestHookWait(func(o string) {
		if o == op {
			once.Do(func() { ch <- struct{}{} })
		}
	})
	t.Cleanup(func() { fastopen.SetTestHookWait(nil) })
	return ch
}

// clientInfo returns InfoOf(c), failing the test on error.
func clientInfo(t *testing.T, c net.Conn) fastopen.Info {
	t.Helper()
	inf, err := fastopen.InfoOf(c)
	if err != nil {
		t.Fatalf("InfoOf: %v", err)
	}
	return inf
}

// echoOn writes msg on c and reads it back, failing the test otherwise.
func echoOn(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(bound))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
}

// wantSYNData fails unless the client put its first write in the SYN and
// the server acknowledged it.
func wantSYNData(t *testing.T, what string, c net.Conn) {
	t.Helper()
	if inf := clientInfo(t, c); !inf.SYNData || !inf.SentInSYN || inf.Reason != fastopen.ReasonNone {
		t.Fatalf("%s: info %+v, want the first write acknowledged in the SYN", what, inf)
	}
}

// TestReviewConcurrentReadWrite is the net/http pattern: one goroutine
// reads the response while another writes the request, on a lazy
// connection with a cookie. The request must still ride in the SYN.
func TestReviewConcurrentReadWrite(t *testing.T) {
	h, addr, infos := warmHost(t)
	d := fastopen.Dialer{FirstWriteWait: bound}
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	c.SetDeadline(time.Now().Add(bound))
	const msg = "GET / HTTP/1.1\r\n\r\n"
	read := make(chan string, 1)
	go func() {
		buf := make([]byte, len(msg))
		n, err := io.ReadFull(c, buf)
		if err != nil {
			read <- err.Error()
			return
		}
		read <- string(buf[:n])
	}()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if got := <-read; got != msg {
		t.Fatalf("reader got %q, want the echo %q", got, msg)
	}
	wantSYNData(t, "read and write from two goroutines", c)
	if s := recv(t, infos); !s.SYNData {
		t.Fatalf("server: %+v, want SYN data", s)
	}
}

// TestReviewConcurrentWrites: two goroutines write at once as the first
// writes; both messages arrive whole, one of them in the SYN.
func TestReviewConcurrentWrites(t *testing.T) {
	h, addr, _ := warmHost(t)
	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	c.SetDeadline(time.Now().Add(bound))
	a, b := strings.Repeat("a", 1000), strings.Repeat("b", 1000)
	var wg sync.WaitGroup
	for _, m := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Write([]byte(m)); err != nil {
				t.Errorf("write: %v", err)
			}
		}()
	}
	got := make([]byte, 2000)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	wg.Wait()
	if s := string(got); s != a+b && s != b+a {
		t.Fatalf("interleaved or lost data: %q...", s[:40])
	}
	if inf := clientInfo(t, c); !inf.SYNData {
		t.Fatalf("info %+v, want SYN data", inf)
	}
}

// TestReviewCloseWhileReadWaits: Close wakes a Read that waits for the
// first write, which then fails with net.ErrClosed, and nothing is sent.
// A Read after Close fails the same way at once.
func TestReviewCloseWhileReadWaits(t *testing.T) {
	h, addr, _ := warmHost(t)
	d := fastopen.Dialer{FirstWriteWait: time.Minute}
	before := labtest.Counters(t, h)

	c := labtest.Dial(t, h, &d, "tcp4", addr)
	waiting := waitSignal(t, "read")
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		errc <- err
	}()
	within(t, "the Read starting to wait", func() struct{} { return <-waiting })
	c.Close()
	if err := within(t, "Read waiting for the first write, after Close", func() error { return <-errc }); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read err = %v, want net.ErrClosed", err)
	}

	c = labtest.Dial(t, h, &d, "tcp4", addr)
	c.Close()
	if err := within(t, "Read after Close", func() error { _, err := c.Read(make([]byte, 8)); return err }); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close err = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close err = %v, want net.ErrClosed", err)
	}
	if delta := labtest.Counters(t, h).Sub(before); delta["Tcp.ActiveOpens"] != 0 {
		t.Fatalf("%d SYNs sent for connections closed before writing", delta["Tcp.ActiveOpens"])
	}
}

// TestReviewReadDeadlineBeforeWrite: a Read whose deadline has passed (set
// in the past, or reached while waiting for the first write, or moved into
// the past by another goroutine) fails with a timeout and does not start
// the handshake: the next Write still rides in the SYN. A zero deadline
// clears it.
func TestReviewReadDeadlineBeforeWrite(t *testing.T) {
	h, addr, _ := warmHost(t)
	d := fastopen.Dialer{FirstWriteWait: time.Minute}
	readErr := func(c net.Conn) error {
		return within(t, "Read with a deadline", func() error { _, err := c.Read(make([]byte, 1)); return err })
	}

	t.Run("past", func(t *testing.T) {
		c := labtest.Dial(t, h, &d, "tcp4", addr)
		c.SetReadDeadline(time.Now().Add(-time.Second))
		if err := readErr(c); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read err = %v, want deadline exceeded", err)
		}
		c.SetDeadline(time.Time{})
		echoOn(t, c, "after a timed-out read")
		wantSYNData(t, "write after a read with a past deadline", c)
	})

	t.Run("reached while waiting", func(t *testing.T) {
		c := labtest.Dial(t, h, &d, "tcp4", addr)
		c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		if err := readErr(c); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read err = %v, want deadline exceeded", err)
		}
		echoOn(t, c, "after a read that timed out waiting")
		wantSYNData(t, "write after a read that timed out", c)
	})

	t.Run("moved while waiting", func(t *testing.T) {
		c := labtest.Dial(t, h, &d, "tcp4", addr)
		waiting := waitSignal(t, "read")
		errc := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 1))
			errc <- err
		}()
		within(t, "the Read starting to wait", func() struct{} { return <-waiting })
		c.SetReadDeadline(time.Unix(1, 0)) // how net/http interrupts a Read
		if err := within(t, "Read interrupted by SetReadDeadline", func() error { return <-errc }); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read err = %v, want deadline exceeded", err)
		}
		c.SetReadDeadline(time.Time{})
		echoOn(t, c, "after an interrupted read")
		wantSYNData(t, "write after an interrupted read", c)
	})
}

// bannerHost returns a warm host and the address of a server there that
// speaks first.
func bannerHost(t *testing.T, banner string) (*lab.Host, string) {
	h, _, _ := warmHost(t)
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	labtest.Serve(ln, func(c net.Conn) {
		c.Write([]byte(banner))
		io.Copy(io.Discard, c)
	})
	return h, ln.Addr().String()
}

// TestReviewWriteDeadlineBeforeWrite: a first Write whose deadline has
// passed fails with a timeout and leaves the connection as it was: a Read
// then still starts the handshake (rather than waiting for a SYN that no
// one sends).
func TestReviewWriteDeadlineBeforeWrite(t *testing.T) {
	const banner = "220 ready\r\n"
	h, addr := bannerHost(t, banner)
	d := fastopen.Dialer{FirstWriteWait: 5 * time.Millisecond}
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("HELO")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write err = %v, want deadline exceeded", err)
	}
	c.SetWriteDeadline(time.Time{})
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != banner {
		t.Fatalf("read after a timed-out first write: %q, %v; want the banner", buf[:n], err)
	}
}

// TestReviewReadAfterWriteDeadline: a write deadline that has passed (the
// caller set one long ago, or set it in the past) concerns writes only: a
// Read before any Write still starts the handshake and gets the banner,
// rather than failing and leaving the SYN unsent for good.
func TestReviewReadAfterWriteDeadline(t *testing.T) {
	const banner = "220 ready\r\n"
	h, addr := bannerHost(t, banner)
	d := fastopen.Dialer{FirstWriteWait: 5 * time.Millisecond}
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	c.SetReadDeadline(time.Now().Add(bound))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != banner {
		t.Fatalf("read with a past write deadline: %q, %v; want the banner", buf[:n], err)
	}
	if inf := clientInfo(t, c); inf.State != "ESTABLISHED" || inf.Reason != fastopen.ReasonNoData {
		t.Fatalf("info %+v, want established with reason no_data", inf)
	}
}

// TestReviewCloseWriteBeforeWrite: CloseWrite on a warm lazy connection
// that never wrote completes the handshake and the peer sees EOF.
func TestReviewCloseWriteBeforeWrite(t *testing.T) {
	h, addr, infos := warmHost(t)
	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	if err := within(t, "CloseWrite", func() error { return c.(*fastopen.Conn).CloseWrite() }); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	// The echo server returns when it reads EOF, and closes: the client
	// reads EOF in turn.
	c.SetReadDeadline(time.Now().Add(bound))
	if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after CloseWrite = %d, %v; want EOF", n, err)
	}
	if s := recv(t, infos); s.SYNData {
		t.Fatalf("server: %+v, want no SYN data", s)
	}
	if inf := clientInfo(t, c); inf.Reason != fastopen.ReasonNoData || inf.State == "SYN_SENT" {
		t.Fatalf("info %+v, want a completed handshake with reason no_data", inf)
	}
}

// TestReviewEmptyFirstWrite: an empty first Write starts the handshake
// without data; later writes work.
func TestReviewEmptyFirstWrite(t *testing.T) {
	h, addr, _ := warmHost(t)
	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty write = %d, %v", n, err)
	}
	echoOn(t, c, "after an empty write")
	if inf := clientInfo(t, c); inf.SYNData || inf.SentInSYN || inf.Reason != fastopen.ReasonNoData {
		t.Fatalf("info %+v, want reason no_data", inf)
	}
}

// TestReviewZeroLengthReadBeforeWrite: a zero-length Read before the first
// Write returns 0, nil at once (as on a *net.TCPConn) without waiting for
// a Write or starting the handshake: the next Write still rides in the
// SYN.
func TestReviewZeroLengthReadBeforeWrite(t *testing.T) {
	h, addr, _ := warmHost(t)
	d := fastopen.Dialer{FirstWriteWait: time.Minute}
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	type result struct {
		n   int
		err error
	}
	if r := within(t, "zero-length Read", func() result { n, err := c.Read(nil); return result{n, err} }); r.n != 0 || r.err != nil {
		t.Fatalf("zero-length read = %d, %v; want 0, nil", r.n, r.err)
	}
	if inf := clientInfo(t, c); inf.Reason != fastopen.ReasonPending || inf.State != "SYN_SENT" {
		t.Fatalf("after a zero-length read: %+v, want the SYN still deferred", inf)
	}
	echoOn(t, c, "after a zero-length read")
	wantSYNData(t, "write after a zero-length read", c)
}

// TestReviewHugeFirstWrite: a first write of several megabytes arrives
// whole and in order; its start rides in the SYN.
func TestReviewHugeFirstWrite(t *testing.T) {
	h, addr, _ := warmHost(t)
	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", addr)
	c.SetDeadline(time.Now().Add(2 * bound))
	msg := make([]byte, 4<<20)
	for i := range msg {
		msg[i] = byte(i * 7 / 251)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		i := 0
		for got[i] == msg[i] {
			i++
		}
		t.Fatalf("echo differs from byte %d on", i)
	}
	// Its start rode in the SYN, and Info says it was only a start.
	if inf := clientInfo(t, c); !inf.SYNData || inf.SYNSentBytes <= 0 || inf.SYNSentBytes >= len(msg) || inf.Reason != fastopen.ReasonTooBigForSYN {
		t.Fatalf("4 MiB first write: info %+v, want part of it acknowledged in the SYN, reason too_big_for_syn", inf)
	}
}

// TestReviewIPv6: DialData and Require over IPv6.
func TestReviewIPv6(t *testing.T) {
	h := labtest.Host(t, "core", 3)
	addr, infos := echoServer(t, h, &fastopen.ListenConfig{}, "tcp6", "[::1]:0")
	d := fastopen.Dialer{Require: true}
	err := h.Run(func() error {
		c, err := d.DialData(context.Background(), "tcp6", addr, []byte("x"))
		if err == nil {
			c.Close()
		}
		return err
	})
	var fe *fastopen.Error
	if !errors.Is(err, fastopen.ErrNotUsed) || !errors.As(err, &fe) || fe.Reason != fastopen.ReasonNoCookie || fe.Net != "tcp6" {
		t.Fatalf("first Require dial over IPv6: err = %v, want ErrNotUsed with reason no_cookie", err)
	}
	recv(t, infos) // the refused dial's handshake fetched the cookie
	var c *fastopen.Conn
	labtest.Run(t, h, func() (err error) {
		c, err = d.DialData(context.Background(), "tcp6", addr, []byte("six"))
		return err
	})
	defer c.Close()
	if inf := clientInfo(t, c); !inf.SYNData || inf.State != "ESTABLISHED" {
		t.Fatalf("IPv6 DialData: info %+v, want established with SYN data", inf)
	}
	if s := recv(t, infos); !s.SYNData || s.SYNBytes != 3 {
		t.Fatalf("server: %+v, want 3 bytes in the SYN", s)
	}
	buf := make([]byte, 3)
	c.SetReadDeadline(time.Now().Add(bound))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "six" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
}

// selfSigned returns a server certificate for "fastopen.test" and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fastopen.test"}, DNSNames: []string{"fastopen.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestReviewInfoOfWrappers: InfoOf through *tls.Conn on both ends (the
// ClientHello rides in the SYN), on a plain *net.TCPConn from net.Dial,
// and on a connection the server reset.
func TestReviewInfoOfWrappers(t *testing.T) {
	h, addr, _ := warmHost(t)
	cert, pool := selfSigned(t)
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	srvInfo := make(chan fastopen.Info, 1)
	labtest.Serve(ln, func(raw net.Conn) {
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}})
		defer c.Close()
		c.SetDeadline(time.Now().Add(bound))
		if err := c.Handshake(); err != nil {
			t.Errorf("server TLS handshake: %v", err)
			return
		}
		inf, err := fastopen.InfoOf(c)
		if err != nil {
			t.Errorf("server InfoOf(*tls.Conn): %v", err)
		}
		srvInfo <- inf
		io.Copy(c, c)
	})
	var d fastopen.Dialer
	c := tls.Client(labtest.Dial(t, h, &d, "tcp4", ln.Addr().String()), &tls.Config{ServerName: "fastopen.test", RootCAs: pool})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatalf("client TLS handshake: %v", err)
	}
	if inf := clientInfo(t, c); inf.Side != fastopen.SideClient || !inf.SYNData || !inf.SentInSYN {
		t.Fatalf("InfoOf(client *tls.Conn) = %+v, want the ClientHello acknowledged in the SYN", inf)
	}
	if s := recv(t, srvInfo); s.Side != fastopen.SideServer || !s.SYNData {
		t.Fatalf("InfoOf(server *tls.Conn) = %+v, want SYN data", s)
	}
	if err := fastopen.Handshake(ctx, c); err != nil {
		t.Fatalf("Handshake(*tls.Conn): %v", err)
	}

	// A plain connection from package net.
	pc := labtest.Dial(t, h, &net.Dialer{}, "tcp4", addr)
	echoOn(t, pc, "plain")
	if inf := clientInfo(t, pc); inf.Side != fastopen.SideUnknown || inf.SYNData || inf.State != "ESTABLISHED" || inf.RTT <= 0 {
		t.Fatalf("InfoOf(*net.TCPConn) = %+v, want side unknown, established, an RTT", inf)
	}

	// A connection the server resets.
	rl := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	labtest.Serve(rl, func(c net.Conn) {
		c.Read(make([]byte, 8))
		c.(*fastopen.ServerConn).SetLinger(0)
		c.Close() // RST
	})
	rc := labtest.Dial(t, h, &d, "tcp4", rl.Addr().String())
	rc.SetDeadline(time.Now().Add(bound))
	rc.Write([]byte("reset me"))
	if _, err := rc.Read(make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read from a reset connection: %v, want ECONNRESET", err)
	}
	if inf, err := fastopen.InfoOf(rc); err != nil || inf.State != "CLOSE" || !inf.SentInSYN {
		t.Fatalf("InfoOf(reset connection) = %+v, %v; want state CLOSE and no error", inf, err)
	}
}

// TestReviewHandshakeEdges: Handshake returns (never hangs) on a lazy
// connection that has not started, on a closed one, and at once on an
// established one, whose write deadline it leaves alone.
func TestReviewHandshakeEdges(t *testing.T) {
	h, addr, _ := warmHost(t)
	var d fastopen.Dialer
	handshake := func(ctx context.Context, c net.Conn) error {
		return within(t, "Handshake", func() error { return fastopen.Handshake(ctx, c) })
	}

	c := labtest.Dial(t, h, &d, "tcp4", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := handshake(ctx, c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Handshake on a lazy connection not started: %v, want the ctx deadline", err)
	}
	if inf := clientInfo(t, c); inf.Reason != fastopen.ReasonPending {
		t.Fatalf("Handshake started the connection: %+v", inf)
	}

	c.Close()
	if err := handshake(context.Background(), c); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Handshake on a closed lazy connection: %v, want net.ErrClosed", err)
	}

	started := labtest.Dial(t, h, &d, "tcp4", addr)
	echoOn(t, started, "x")
	if err := handshake(context.Background(), started); err != nil {
		t.Fatalf("Handshake on an established connection: %v", err)
	}
	started.Close()
	if err := handshake(context.Background(), started); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Handshake on a closed connection: %v, want net.ErrClosed", err)
	}

	// Server side: a cold connection is established when accepted.
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	pc := labtest.Dial(t, h, &net.Dialer{}, "tcp4", ln.Addr().String())
	sc := within(t, "Accept", func() net.Conn { return <-accepted })
	defer sc.Close()
	if err := handshake(context.Background(), sc); err != nil {
		t.Fatalf("Handshake on a cold server connection: %v", err)
	}

	// A plain *net.TCPConn: Handshake cannot read its deadline back, so it
	// must not touch it when there is nothing to wait for.
	tc := pc.(*net.TCPConn)
	tc.SetWriteDeadline(time.Now().Add(-time.Second))
	if err := handshake(context.Background(), tc); err != nil {
		t.Fatalf("Handshake on an established *net.TCPConn: %v", err)
	}
	if _, err := tc.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write after Handshake: %v; the caller's past write deadline was cleared", err)
	}
}

// TestReviewNoLeaks: 200 lazy dials that write, read and close leave no
// descriptor or goroutine behind.
func TestReviewNoLeaks(t *testing.T) {
	h, addr, infos := warmHost(t)
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() { // the echo server reports every connection
		defer close(drained)
		for {
			select {
			case <-infos:
			case <-stop:
				return
			}
		}
	}()
	var d fastopen.Dialer
	exchange(t, h, &d, "tcp4", addr, "settle") // the first of a Dialer may set up lazily
	time.Sleep(50 * time.Millisecond)
	fds, gs := openFDs(t), runtime.NumGoroutine()
	warm := 0
	for i := 0; i < 200; i++ {
		if inf := exchange(t, h, &d, "tcp4", addr, "ping"); inf.SYNData {
			warm++
		}
	}
	if warm != 200 {
		t.Errorf("%d of 200 dials carried their data in the SYN", warm)
	}
	deadline := time.Now().Add(bound)
	for (openFDs(t) > fds || runtime.NumGoroutine() > gs) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFDs(t); n > fds {
		t.Errorf("file descriptors: %d before, %d after", fds, n)
	}
	if g := runtime.NumGoroutine(); g > gs {
		t.Errorf("goroutines: %d before, %d after", gs, g)
	}
	close(stop)
	<-drained
}

// TestReviewUnansweredSYN: with a cookie for the server's IP but a port
// whose packets are dropped (a server that never answers), DialData
// honours Dialer.Timeout and ctx cancellation, also when the data is too
// large for the SYN, and a lazy connection honours its write deadline and
// Handshake its ctx.
func TestReviewUnansweredSYN(t *testing.T) {
	const blackPort = 9
	l := labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{lab.DropPort(blackPort)}})
	ip := l.ServerAddr(false)
	addr, _ := echoServer(t, l.Server, &fastopen.ListenConfig{}, "tcp4", netip.AddrPortFrom(ip, 8000).String())
	// Without path memory: a SYN with data unanswered within Timeout
	// teaches it to leave TFO out for the server's IP (every port), and
	// this test is about the timeouts of TFO dials.
	warm := fastopen.Dialer{IgnorePathMemory: true}
	exchange(t, l.Client, &warm, "tcp4", addr, "cookie please")
	black := netip.AddrPortFrom(ip, blackPort).String()
	big := bytes.Repeat([]byte("z"), 256<<10)

	dialData := func(d *fastopen.Dialer, ctx context.Context, data []byte) error {
		return within(t, "DialData to a server that never answers", func() error {
			return l.Client.Run(func() error {
				c, err := d.DialData(ctx, "tcp4", black, data)
				if err == nil {
					c.Close()
				}
				return err
			})
		})
	}
	for _, data := range [][]byte{[]byte("small"), big} {
		d := fastopen.Dialer{Dialer: net.Dialer{Timeout: 200 * time.Millisecond}, IgnorePathMemory: true}
		err := dialData(&d, context.Background(), data)
		var op *net.OpError
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &op) || op.Op != "dial" {
			t.Errorf("DialData of %d bytes with Timeout: err = %v, want a dial error with deadline exceeded", len(data), err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		if err := dialData(&warm, ctx, data); !errors.Is(err, context.Canceled) {
			t.Errorf("DialData of %d bytes, ctx cancelled: err = %v, want context.Canceled", len(data), err)
		}
		cancel()
	}

	c := labtest.Dial(t, l.Client, &warm, "tcp4", black)
	if inf := clientInfo(t, c); !inf.HadCookie {
		t.Fatalf("lazy dial: %+v, want a cookie (deferred SYN)", inf)
	}
	c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	if err := within(t, "Write with a deadline", func() error { _, err := c.Write(big); return err }); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("large write to a server that never answers: %v, want deadline exceeded", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := within(t, "Handshake", func() error { return fastopen.Handshake(ctx, c) }); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Handshake with a ctx deadline: %v, want deadline exceeded", err)
	}
}
