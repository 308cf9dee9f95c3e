package accept

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{os.NewSyscallError("accept4", syscall.EMFILE), true},
		{fmt.Errorf("wrapped: %w", syscall.ENFILE), true},
		{syscall.ENOBUFS, true},
		{syscall.ENOMEM, true},
		{syscall.ECONNABORTED, false},
		{errors.New("use of closed network connection"), false},
		{nil, false},
	} {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestLimit: with a limit of 1, a second connection is not accepted
// while the first is open, and is once the first is closed; connections
// expose what they wrap.
func TestLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Limit(inner, 1)
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	if _, ok := first.(interface{ NetConn() net.Conn }).NetConn().(*net.TCPConn); !ok {
		t.Fatalf("NetConn of %T is not the accepted *net.TCPConn", first)
	}
	select {
	case c := <-accepted:
		t.Fatalf("a second connection (%v) was accepted while the first is open", c.RemoteAddr())
	case <-time.After(100 * time.Millisecond): // absence of an event: bounded look
	}
	first.Close()
	first.Close() // a second Close gives back nothing more
	if c := <-accepted; c == nil {
		t.Fatal("the second connection was not accepted after the first closed")
	}
	ln.Close()
	if _, ok := <-accepted; ok {
		t.Fatal("Accept after Close returned a connection")
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for d := time.Duration(0); len(got) < 10; {
		d = Backoff(d)
		got = append(got, d)
	}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("Backoff steps %v, want %v ms", got, want)
		}
	}
}
