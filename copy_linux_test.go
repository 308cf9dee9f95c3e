package fastopen_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
)

// TestCopy: io.Copy from a file into a lazy connection goes through its
// ReadFrom, whose first chunk still rides in the SYN (proven by both
// ends' TCP_INFO), and io.Copy of the echo out of it through WriteTo;
// every byte arrives, in order.
func TestCopy(t *testing.T) {
	h, addr, infos := warmHost(t)
	data := make([]byte, 200<<10)
	rand.Read(data)
	name := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var d fastopen.Dialer
	c := labtest.Dial(t, h, &d, "tcp4", addr).(*fastopen.Conn)
	c.SetDeadline(time.Now().Add(bound))
	echoed := make(chan []byte, 1)
	go func() {
		var got bytes.Buffer
		n, err := io.Copy(&got, c) // c.WriteTo
		if err != nil {
			t.Errorf("copy the echo after %d bytes: %v", n, err)
		}
		echoed <- got.Bytes()
	}()
	n, err := io.Copy(c, f) // c.ReadFrom
	if err != nil || n != int64(len(data)) {
		t.Fatalf("copy the file: %d bytes, %v; want %d", n, err, len(data))
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got := within(t, "the echo", func() []byte { return <-echoed })
	if !bytes.Equal(got, data) {
		t.Fatalf("echo: %d bytes, want the %d written, in order", len(got), len(data))
	}
	if inf := clientInfo(t, c); !inf.SYNData || !inf.SentInSYN {
		t.Fatalf("client: %+v, want the first chunk acknowledged in the SYN", inf)
	}
	if s := recv(t, infos); !s.SYNData {
		t.Fatalf("server: %+v, want SYN data", s)
	}
}
