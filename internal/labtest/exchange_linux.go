package labtest

import (
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/lab"
)

// EchoHost creates a namespace host with TFO on both sides and a
// fastopen TFO listener on its loopback, served by an echo server in a
// child process (this test binary again, see ServeEchoChild), so that a
// benchmark's allocation counts are the client's alone. It runs one
// exchange with RawDialer so that the kernel holds the server's cookie,
// and returns the host and the server's address. The child is killed when
// the test ends.
func EchoHost(b testing.TB, name string) (*lab.Host, string) {
	b.Helper()
	h := Host(b, name, 3)
	ln := Listen(b, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
	f, err := ln.(*fastopen.Listener).TCPListener().File()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), echoChildEnv+"=1")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the echo server: %v", err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := ln.Addr().String()
	// The socket listens already: this connection waits in its backlog
	// until the child accepts it.
	c := Dial(b, h, RawDialer(5*time.Second), "tcp4", addr)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(ExchangeMessage); err != nil {
		b.Fatalf("fetch the cookie: %v", err)
	}
	if reply, err := io.ReadAll(c); err != nil || string(reply) != string(ExchangeMessage) {
		b.Fatalf("fetch the cookie: echo %q, %v", reply, err)
	}
	c.Close()
	return h, addr
}

// BenchExchange benchmarks one client-side exchange with the server of
// EchoHost: exchange dials and sends ExchangeMessage (however the client
// under test does that), then the echo is read and the connection closed.
// The loop runs on this goroutine's thread inside h and reports
// allocations. Afterwards, outside the timed loop, the server namespace's
// TCPFastOpenPassive counter must have grown by one per exchange when
// wantSYN (every request rode in the SYN) and not at all otherwise, or the
// benchmark fails.
func BenchExchange(b *testing.B, h *lab.Host, exchange func() (net.Conn, error), wantSYN bool) {
	b.Helper()
	before := Counters(b, h)
	n := 0
	err := h.Run(func() error {
		b.ReportAllocs()
		buf := make([]byte, 64)
		for b.Loop() {
			c, err := exchange()
			if err != nil {
				return err
			}
			if _, err := io.ReadAtLeast(c, buf, len(ExchangeMessage)); err != nil {
				return err
			}
			c.Close()
			n++
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	got := Counters(b, h).Sub(before)["TcpExt.TCPFastOpenPassive"]
	want := 0
	if wantSYN {
		want = n
	}
	if got != uint64(want) {
		b.Fatalf("TCPFastOpenPassive +%d over %d exchanges, want +%d", got, n, want)
	}
}
