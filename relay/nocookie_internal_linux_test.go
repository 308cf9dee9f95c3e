package relay

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/fastopen/fastopen"
	"golang.org/x/sys/unix"
)

// TestNoCookieOldKernel: a kernel without TCP_FASTOPEN_NO_COOKIE (before
// 4.15) answers ENOPROTOOPT, an MPTCP socket on a kernel that does not
// pass the option on EOPNOTSUPP; listen and dial then fail with an error
// that names the option, the kernel version and what to do, and matches
// errors.ErrUnsupported. Nothing is listened on or dialed.
func TestNoCookieOldKernel(t *testing.T) {
	for _, errno := range []unix.Errno{unix.ENOPROTOOPT, unix.EOPNOTSUPP} {
		orig := setNoCookie
		setNoCookie = func(int) error { return errno }
		t.Cleanup(func() { setNoCookie = orig })
		check := func(what string, err error) {
			t.Helper()
			if err == nil {
				t.Fatalf("%s with %v: no error", what, errno)
			}
			for _, want := range []string{"TCP_FASTOPEN_NO_COOKIE", "Linux 4.15", "run without it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s with %v: %q does not say %q", what, errno, err, want)
				}
			}
			if !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, errno) {
				t.Errorf("%s with %v: %v does not match errors.ErrUnsupported and the errno", what, errno, err)
			}
		}
		lc := &fastopen.ListenConfig{}
		lc.Control = NoCookie
		ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
		if ln != nil {
			ln.Close()
		}
		check("listen", err)
		d := &fastopen.Dialer{}
		d.Control = NoCookie
		c, err := d.DialData(context.Background(), "tcp4", "127.0.0.1:9", []byte("x"))
		if c != nil {
			c.Close()
		}
		check("dial", err)
		check("CheckNoCookie", CheckNoCookie())
	}
}

// TestNoCookieSet: on this kernel the option is set and reads back as 1.
func TestNoCookieSet(t *testing.T) {
	if err := CheckNoCookie(); err != nil {
		t.Fatalf("CheckNoCookie: %v", err)
	}
	lc := net.ListenConfig{Control: NoCookie}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_NO_COOKIE) })
	if gerr != nil || v != 1 {
		t.Fatalf("TCP_FASTOPEN_NO_COOKIE reads %d, %v; want 1", v, gerr)
	}
}
