package fastopen_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

type arrival struct {
	data      string
	synData   bool
	handshake error
}

// TestReplayedSYN shows the risk the walkthrough warns about and the guard:
// a duplicated SYN with data, arriving after the original connection is
// gone, is accepted by the kernel (the cookie is still valid) and its data
// is delivered to the application a second time. Handshake tells the two
// apart: the original completes its handshake, the replay never does.
func TestReplayedSYN(t *testing.T) {
	const rtt = 20 * time.Millisecond
	l := labtest.Lab(t, lab.Config{RTT: rtt, Faults: []lab.Rule{{
		Name: "replay-syn-data", Dir: lab.Up, Match: lab.Match{SYN: true, Payload: true}, Action: lab.Duplicate, Delay: 300 * time.Millisecond,
	}}})
	addr := netip.AddrPortFrom(l.ServerAddr(false), 8000).String()
	ln := labtest.Listen(t, l.Server, nil, "tcp4", addr)
	arrivals := make(chan arrival, 8)
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		inf, _ := fastopen.InfoOf(c)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		herr := fastopen.Handshake(ctx, c)
		cancel()
		arrivals <- arrival{data: string(buf[:n]), synData: inf.SYNData, handshake: herr}
		if herr == nil {
			c.Write(buf[:n])
			io.Copy(io.Discard, c) // the client closes first
		}
	})
	var d fastopen.Dialer
	send := func(msg string) {
		c := labtest.Dial(t, l.Client, &d, "tcp4", addr)
		defer c.Close() // at return: the server waits for the client to close
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			t.Fatalf("echo of %q: %v", msg, err)
		}
	}
	next := func() arrival {
		select {
		case a := <-arrivals:
			return a
		case <-time.After(5 * time.Second):
			t.Fatal("no connection arrived")
		}
		return arrival{}
	}
	send("cookie please") // cold: no data in the SYN, so nothing is duplicated
	if a := next(); a.synData || a.handshake != nil {
		t.Fatalf("cold connection: %+v", a)
	}
	const order = "transfer 100 to alice #1"
	send(order)
	orig := next()
	if !orig.synData || orig.data != order || orig.handshake != nil {
		t.Fatalf("original TFO connection: %+v, want SYN data and a completed handshake", orig)
	}
	replayed := next()
	if replayed.data != order || !replayed.synData {
		t.Fatalf("replay: %+v, want the same order delivered again from a SYN", replayed)
	}
	if replayed.handshake == nil {
		t.Fatalf("the replayed SYN's handshake completed; Handshake cannot tell it from the original")
	}
	t.Logf("replay delivered %q again; Handshake: %v", replayed.data, replayed.handshake)
	if hits := l.Stats().Rules[0].Hits; hits != 1 {
		t.Fatalf("the replay rule matched %d packets, want exactly the one SYN with data", hits)
	}
}
