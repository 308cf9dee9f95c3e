package echo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

// serve starts srv on addr inside h and stops it when the test ends.
func serve(t *testing.T, h *lab.Host, srv *echo.Server, addr string) string {
	t.Helper()
	ln := labtest.Listen(t, h, nil, "tcp", addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func send(t *testing.T, h *lab.Host, req echo.Request) echo.Result {
	t.Helper()
	var d fastopen.Dialer
	var res echo.Result
	labtest.Run(t, h, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err = echo.Send(ctx, &d, req)
		return err
	})
	return res
}

func TestOnceAndStream(t *testing.T) {
	h := labtest.Host(t, "echo", 3)
	once := serve(t, h, &echo.Server{}, "127.0.0.1:0")
	for i, want := range []bool{false, true} {
		res := send(t, h, echo.Request{Network: "tcp", Address: once, Data: []byte("hello!")})
		if string(res.Reply) != "hello!" || res.Info.SYNData != want || res.Elapsed <= 0 || res.FirstByte > res.Elapsed {
			t.Fatalf("once, exchange %d: reply %q, info %+v, elapsed %v", i+1, res.Reply, res.Info, res.Elapsed)
		}
	}
	res := send(t, h, echo.Request{Network: "tcp", Address: once, Data: []byte("eager"), Mode: echo.Eager})
	if string(res.Reply) != "eager" || !res.Info.SYNData {
		t.Fatalf("eager: reply %q, info %+v", res.Reply, res.Info)
	}

	stream := serve(t, h, &echo.Server{Stream: true}, "127.0.0.1:0")
	c := labtest.Dial(t, h, &net.Dialer{}, "tcp", stream)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range []string{"one", "two", "three"} {
		c.Write([]byte(msg))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("stream echo of %q: %q, %v", msg, got, err)
		}
	}
}

// TestConfirmRejectsReplay: with Confirm, a SYN with data that the network
// replays after the original connection ended is not answered, while the
// original is.
func TestConfirmRejectsReplay(t *testing.T) {
	l := labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{{
		Name: "replay", Dir: lab.Up, Match: lab.Match{SYN: true, Payload: true}, Action: lab.Duplicate, Delay: 300 * time.Millisecond,
	}}})
	var mu sync.Mutex
	var accepted, rejected []fastopen.Info
	var rejectErr error
	srv := &echo.Server{
		Stream:  true, // the client closes first, so the server forgets the connection at once
		Confirm: true,
		Accepted: func(_ net.Conn, inf fastopen.Info) {
			mu.Lock()
			accepted = append(accepted, inf)
			mu.Unlock()
		},
		Rejected: func(_ net.Conn, inf fastopen.Info, err error) {
			mu.Lock()
			rejected, rejectErr = append(rejected, inf), err
			mu.Unlock()
		},
	}
	addr := serve(t, l.Server, srv, netip.AddrPortFrom(l.ServerAddr(false), 8000).String())
	for i, msg := range []string{"cookie please", "transfer 100 to alice"} {
		res := send(t, l.Client, echo.Request{Network: "tcp", Address: addr, Data: []byte(msg), ReplySize: len(msg)})
		if string(res.Reply) != msg || res.Info.SYNData != (i == 1) {
			t.Fatalf("exchange %d: reply %q, info %+v", i+1, res.Reply, res.Info)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(rejected)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) != 3 || !accepted[2].SYNData {
		t.Fatalf("accepted %d connections (%+v), want 3: cold, TFO, and the replayed TFO SYN", len(accepted), accepted)
	}
	if len(rejected) != 1 || rejectErr == nil || !rejected[0].SYNData {
		t.Fatalf("rejected %d (%v), want exactly the replay", len(rejected), rejectErr)
	}
	t.Logf("replay rejected: %v", rejectErr)
}

// TestSendHonoursContext: against a server whose packets are dropped, with
// a cookie cached for its IP (so the lazy dial returns at once and the
// SYN waits for the Write), Send returns when ctx ends, in both modes,
// also when the request is too large for the SYN and the Write must wait
// for a handshake that never comes.
func TestSendHonoursContext(t *testing.T) {
	const blackPort = 9
	l := labtest.Lab(t, lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{lab.DropPort(blackPort)}})
	addr := serve(t, l.Server, &echo.Server{}, netip.AddrPortFrom(l.ServerAddr(false), 8000).String())
	for i := range 2 {
		if res := send(t, l.Client, echo.Request{Network: "tcp", Address: addr, Data: []byte("cookie")}); res.Info.SYNData != (i == 1) {
			t.Fatalf("warm-up %d: info %+v", i+1, res.Info)
		}
	}
	black := netip.AddrPortFrom(l.ServerAddr(false), blackPort).String()
	const timeout = 200 * time.Millisecond
	for _, mode := range []echo.Mode{echo.Lazy, echo.Eager} {
		for _, size := range []int{6, 256 << 10} {
			var d fastopen.Dialer
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				done <- l.Client.Run(func() error {
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					defer cancel()
					_, err := echo.Send(ctx, &d, echo.Request{Network: "tcp", Address: black, Data: bytes.Repeat([]byte("x"), size), Mode: mode})
					return err
				})
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("mode %d, %d bytes: err = %v, want a deadline error", mode, size, err)
				}
				if took := time.Since(start); took > 10*timeout {
					t.Errorf("mode %d, %d bytes: returned after %v, ctx timeout %v", mode, size, took, timeout)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("mode %d, %d bytes: Send ignored its ctx (timeout %v)", mode, size, timeout)
			}
		}
	}
}

// shortListener fails its first Accepts as a process out of descriptors
// does (EMFILE), then accepts normally.
type shortListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *shortListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.fails > 0
	if fail {
		l.fails--
	}
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestServeSurvivesShortage: running out of descriptors makes Accept fail
// for a while; the server must wait and go on (as net/http does), not
// stop serving. The exchanges afterwards are TFO exchanges (cold, then
// data in the SYN on both ends).
func TestServeSurvivesShortage(t *testing.T) {
	h := labtest.Host(t, "echo", 3)
	ln := &shortListener{Listener: labtest.Listen(t, h, nil, "tcp", "127.0.0.1:0"), fails: 3}
	var mu sync.Mutex
	var server []fastopen.Info
	srv := &echo.Server{Accepted: func(_ net.Conn, inf fastopen.Info) {
		mu.Lock()
		server = append(server, inf)
		mu.Unlock()
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	for i := range 2 {
		res := send(t, h, echo.Request{Network: "tcp", Address: ln.Addr().String(), Data: []byte("hello!")})
		if string(res.Reply) != "hello!" || res.Info.SYNData != (i == 1) {
			t.Fatalf("exchange %d after Accept failed with EMFILE: reply %q, info %+v", i+1, res.Reply, res.Info)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(server) != 2 || server[0].SYNData || !server[1].SYNData {
		t.Fatalf("server infos %+v, want a cold connection then one with SYN data", server)
	}
}

// TestIdleTimeoutCoversWrites: a stream client that sends but never reads
// fills the socket buffers and blocks the server's echo; IdleTimeout must
// end that connection too.
func TestIdleTimeoutCoversWrites(t *testing.T) {
	h := labtest.Host(t, "echo", 3)
	addr := serve(t, h, &echo.Server{Stream: true, IdleTimeout: 100 * time.Millisecond}, "127.0.0.1:0")
	c := labtest.Dial(t, h, &fastopen.Dialer{}, "tcp", addr)
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	chunk := make([]byte, 64<<10)
	var err error
	for err == nil {
		_, err = c.Write(chunk)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("writing without reading: %v; want the server to reset the connection after its idle timeout", err)
	}
}
