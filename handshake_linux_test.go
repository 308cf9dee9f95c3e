package fastopen_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
)

// TestHandshakeLeavesWriteDeadline: Handshake waits without borrowing
// the connection's write deadline. A Write blocked on a handshake that
// never completes keeps its own deadline (600 ms) while a Handshake with
// a shorter ctx (100 ms) gives up; and a Handshake's wait is not cut
// short by a write deadline that has passed.
func TestHandshakeLeavesWriteDeadline(t *testing.T) {
	l, dead := deadLab(t)
	var d fastopen.Dialer
	c := labtest.Dial(t, l.Client, &d, "tcp4", dead)
	if _, err := c.Write([]byte("into the void")); err != nil {
		t.Fatal(err)
	}

	const writeFor = 600 * time.Millisecond
	start := time.Now()
	c.SetWriteDeadline(start.Add(writeFor))
	wrote := make(chan time.Duration, 1)
	go func() {
		c.Write(bytes.Repeat([]byte("z"), 256<<10)) // blocks: no handshake
		wrote <- time.Since(start)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := within(t, "Handshake", func() error { return fastopen.Handshake(ctx, c) }); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Handshake: %v, want deadline exceeded", err)
	}
	if took := within(t, "the blocked Write", func() time.Duration { return <-wrote }); took < writeFor-50*time.Millisecond {
		t.Fatalf("the concurrent Write ended after %v, before its own deadline (%v): Handshake's ctx cut it", took, writeFor)
	}

	// A write deadline already past concerns the caller's writes, not a
	// Handshake whose ctx has not ended: it must wait for its ctx.
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel2)
	if err := within(t, "Handshake", func() error { return fastopen.Handshake(ctx2, c) }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Handshake with the write deadline past, ctx cancelled after 200 ms: %v, want context.Canceled", err)
	}
}
