package cookie_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/internal/labtest"
)

// TestListAndFlush: a cookie the kernel fetched shows up in List and is
// what lets the next SYN carry data; Flush of that server, and of all,
// empties the cache so the next SYN carries none; flushing an unknown
// destination is ErrNoCookie. Client and server share one namespace's
// loopback (the kernel caches cookies for it like for any destination).
func TestListAndFlush(t *testing.T) {
	h := labtest.Host(t, "cookie", 3)
	ln := labtest.Listen(t, h, labtest.RawListenConfig(16), "tcp4", "127.0.0.1:0")
	serverSYN := make(chan bool, 8)
	labtest.Serve(ln, func(c net.Conn) {
		info, _ := labtest.TCPInfo(c)
		serverSYN <- info != nil && labtest.SYNData(info)
		buf := make([]byte, 64)
		if n, err := c.Read(buf); err == nil {
			c.Write(buf[:n])
		}
	})
	server := netip.MustParseAddrPort(ln.Addr().String())
	// exchange sends msg (in the SYN when a cookie is cached) and reports
	// whether the client's SYN data was acknowledged and whether the
	// server's connection began with data in the SYN.
	exchange := func(msg string) (client, srv bool) {
		t.Helper()
		c := labtest.Dial(t, h, labtest.RawDialer(5*time.Second), "tcp4", server.String())
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if reply, err := io.ReadAll(c); err != nil || string(reply) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, reply, err)
		}
		info, err := labtest.TCPInfo(c)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case srv = <-serverSYN:
		case <-time.After(5 * time.Second):
			t.Fatal("server accepted no connection")
		}
		return labtest.SYNData(info), srv
	}
	list := func() []cookie.Cookie {
		t.Helper()
		var cs []cookie.Cookie
		labtest.Run(t, h, func() (err error) { cs, err = cookie.List(); return err })
		return cs
	}

	if c, s := exchange("hello"); c || s {
		t.Fatalf("first exchange carried SYN data (client %v, server %v) without a cookie", c, s)
	}
	if cs := list(); len(cs) != 1 || cs[0].Dest != server.Addr() || len(cs[0].Cookie) != 8 || cs[0].Source != server.Addr() || cs[0].CookieHex == "" {
		t.Fatalf("cookies %+v, want one 8-byte cookie for %v from %v", cs, server.Addr(), server.Addr())
	}
	if c, s := exchange("warm"); !c || !s {
		t.Fatalf("listed cookie was not used: SYN data acknowledged %v, received in the SYN %v", c, s)
	}
	labtest.Run(t, h, func() error { return cookie.Flush(server.Addr()) })
	if cs := list(); len(cs) != 0 {
		t.Fatalf("after flush: %d cookies left", len(cs))
	}
	if c, s := exchange("cold"); c || s {
		t.Fatalf("SYN data after the cookie was flushed (client %v, server %v)", c, s)
	}
	if len(list()) != 1 {
		t.Fatal("the cold exchange fetched no new cookie")
	}
	labtest.Run(t, h, func() error { return cookie.Flush(netip.Addr{}) })
	if cs := list(); len(cs) != 0 {
		t.Fatalf("after flushing all: %d cookies left", len(cs))
	}
	err := h.Run(func() error { return cookie.Flush(netip.MustParseAddr("10.201.0.99")) })
	if !errors.Is(err, cookie.ErrNoCookie) {
		t.Fatalf("flushing an unknown destination: %v, want ErrNoCookie", err)
	}
}
