package echo_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
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
	labtest.NeedRoot(t)
	l, err := lab.New(lab.Config{RTT: 20 * time.Millisecond, Faults: []lab.Rule{{
		Name: "replay", Dir: lab.Up, Match: lab.Match{SYN: true, Payload: true}, Action: lab.Duplicate, Delay: 300 * time.Millisecond,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
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
