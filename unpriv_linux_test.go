package fastopen_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/kernel"
)

// TestLazyUnprivileged runs the lazy connection's state machine through
// its paths in a user and network namespace of its own, so that `go test`
// without root still covers it: cold and warm dials (the warm one's data
// in the SYN, by both ends' TCP_INFO), a Read and a Write racing as
// net/http does, a Read whose deadline passed before any Write, an empty
// first Write, and a Close before any Write (no SYN sent).
func TestLazyUnprivileged(t *testing.T) {
	if !labtest.InNetNamespace(t) {
		return
	}
	ctx := context.Background()
	ln, err := (&fastopen.ListenConfig{}).Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ok, why := ln.(*fastopen.Listener).FastOpen(); !ok {
		t.Fatalf("listener: TFO off (%v)", why)
	}
	infos := make(chan fastopen.Info, 16)
	labtest.Serve(ln, func(c net.Conn) {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		inf, _ := fastopen.InfoOf(c)
		infos <- inf
		if err == nil {
			c.Write(buf[:n])
			io.Copy(io.Discard, c)
		}
	})
	addr := ln.Addr().String()
	var d fastopen.Dialer
	dial := func() net.Conn {
		c, err := d.DialContext(ctx, "tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	cold := dial()
	echoOn(t, cold, "cold")
	if inf := clientInfo(t, cold); inf.SYNData || inf.Reason != fastopen.ReasonNoCookie {
		t.Fatalf("cold: %+v, want reason no_cookie", inf)
	}
	recv(t, infos)

	warm := dial()
	if inf := clientInfo(t, warm); !inf.HadCookie || inf.Reason != fastopen.ReasonPending {
		t.Fatalf("warm before writing: %+v, want a deferred SYN", inf)
	}
	echoOn(t, warm, "warm")
	wantSYNData(t, "warm", warm)
	if s := recv(t, infos); !s.SYNData || s.SYNBytes != len("warm") {
		t.Fatalf("server, warm: %+v, want 4 bytes in the SYN", s)
	}

	// net/http's pattern: the reader waits for the writer.
	both := dial()
	waiting := waitSignal(t, "read")
	read := make(chan error, 1)
	go func() {
		both.SetReadDeadline(time.Now().Add(bound))
		_, err := io.ReadFull(both, make([]byte, len("request")))
		read <- err
	}()
	within(t, "the Read starting to wait", func() struct{} { return <-waiting })
	if _, err := both.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	if err := within(t, "Read", func() error { return <-read }); err != nil {
		t.Fatal(err)
	}
	wantSYNData(t, "Read and Write from two goroutines", both)
	recv(t, infos)

	past := dial()
	past.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := past.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with a past deadline: %v, want a timeout", err)
	}
	past.SetReadDeadline(time.Time{})
	echoOn(t, past, "still in the SYN")
	wantSYNData(t, "Write after a timed-out Read", past)
	recv(t, infos)

	empty := dial()
	if n, err := empty.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty Write: %d, %v", n, err)
	}
	echoOn(t, empty, "after the SYN")
	if inf := clientInfo(t, empty); inf.SYNData || inf.SentInSYN || inf.Reason != fastopen.ReasonNoData {
		t.Fatalf("after an empty first Write: %+v, want reason no_data", inf)
	}
	recv(t, infos)

	before, err := kernel.ReadCounters()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		dial().Close()
	}
	after, err := kernel.ReadCounters()
	if err != nil {
		t.Fatal(err)
	}
	if n := after.Sub(before)["Tcp.ActiveOpens"]; n != 0 {
		t.Fatalf("%d SYNs sent for lazy connections closed before writing", n)
	}
	t.Logf("as uid %d in a namespace of its own: cold, warm (%d bytes in the SYN), Read/Write race, past deadline, empty Write, Close before Write", os.Getuid(), len("warm"))
}
