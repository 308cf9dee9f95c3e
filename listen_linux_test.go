package fastopen_test

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"testing"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/sysctl"
	"golang.org/x/sys/unix"
)

// sockProtocol reads SO_PROTOCOL of ln's socket: what the kernel holds,
// independently of what the package reports.
func sockProtocol(t *testing.T, ln net.Listener) int {
	t.Helper()
	rc, err := ln.(*fastopen.Listener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var proto int
	var gerr error
	if err := rc.Control(func(fd uintptr) { proto, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return proto
}

// TestListenPlainTCPUnlessAsked: Go listens with MPTCP by default; a TFO
// listener is plain TCP unless the caller set MPTCP explicitly, and then
// it is MPTCP and still does TFO (this kernel accepts TCP_FASTOPEN on
// MPTCP sockets, Linux 6.2+). Proof: SO_PROTOCOL and the server's view of
// a warm connection.
func TestListenPlainTCPUnlessAsked(t *testing.T) {
	h := labtest.Host(t, "core", 3)
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	if p := sockProtocol(t, ln); p != unix.IPPROTO_TCP || ln.(*fastopen.Listener).MultipathTCP() {
		t.Fatalf("default listener: SO_PROTOCOL %d, MultipathTCP %v; want TCP (%d)", p, ln.(*fastopen.Listener).MultipathTCP(), unix.IPPROTO_TCP)
	}
	var mp fastopen.ListenConfig
	mp.SetMultipathTCP(true)
	if l := labtest.Listen(t, h, &mp, "tcp4", "127.0.0.1:0").(*fastopen.Listener); sockProtocol(t, l) != unix.IPPROTO_MPTCP || !l.MultipathTCP() {
		t.Fatalf("listener asked for MPTCP: SO_PROTOCOL %d, MultipathTCP %v; want MPTCP", sockProtocol(t, l), l.MultipathTCP())
	}
	addr, infos := echoServer(t, h, &mp, "tcp4", "127.0.0.1:0")
	var d fastopen.Dialer
	exchange(t, h, &d, "tcp4", addr, "cookie please")
	recv(t, infos)
	exchange(t, h, &d, "tcp4", addr, "in the SYN")
	if s := recv(t, infos); !s.SYNData {
		t.Fatalf("MPTCP listener: server info %+v, want SYN data", s)
	}
}

// TestListenMPTCPRefused: kernels before 6.2 refuse TCP_FASTOPEN on an
// MPTCP socket (EOPNOTSUPP, or ENOPROTOOPT). Injected here: a listener
// asked to use MPTCP falls back to TCP with TFO, says so, and the data of
// a warm connection rides in the SYN.
func TestListenMPTCPRefused(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EOPNOTSUPP, unix.ENOPROTOOPT} {
		t.Run(errno.Error(), func(t *testing.T) {
			h := labtest.Host(t, "core", 3)
			refused := 0
			fastopen.SetSetsockoptInt(func(fd, level, opt, value int) error {
				if p, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); p == unix.IPPROTO_MPTCP && opt == unix.TCP_FASTOPEN {
					refused++
					return errno
				}
				return unix.SetsockoptInt(fd, level, opt, value)
			})
			defer fastopen.SetSetsockoptInt(nil)
			var lc fastopen.ListenConfig
			lc.SetMultipathTCP(true)
			addr, infos := echoServer(t, h, &lc, "tcp4", "127.0.0.1:0")
			if refused == 0 {
				t.Fatal("the listener never tried TCP_FASTOPEN on an MPTCP socket: the test injected nothing")
			}
			var d fastopen.Dialer
			exchange(t, h, &d, "tcp4", addr, "cookie please")
			recv(t, infos)
			exchange(t, h, &d, "tcp4", addr, "in the SYN")
			if s := recv(t, infos); !s.SYNData || s.SYNBytes != len("in the SYN") {
				t.Fatalf("after the MPTCP refusal: server info %+v, want 10 bytes in the SYN", s)
			}
		})
	}
	h := labtest.Host(t, "core", 3)
	fastopen.SetSetsockoptInt(func(fd, level, opt, value int) error {
		if p, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); p == unix.IPPROTO_MPTCP {
			return unix.EOPNOTSUPP
		}
		return unix.SetsockoptInt(fd, level, opt, value)
	})
	defer fastopen.SetSetsockoptInt(nil)
	var lc fastopen.ListenConfig
	lc.SetMultipathTCP(true)
	l := labtest.Listen(t, h, &lc, "tcp4", "127.0.0.1:0").(*fastopen.Listener)
	if ok, why := l.FastOpen(); !ok || l.MultipathTCP() || sockProtocol(t, l) != unix.IPPROTO_TCP || l.QueueLen() != fastopen.DefaultQueueLen {
		t.Fatalf("FastOpen %v %v, MultipathTCP %v, QueueLen %d: want TFO on a TCP listener", ok, why, l.MultipathTCP(), l.QueueLen())
	}
}

// TestListenServerBit: the kernel does server TFO only with bit 0x2; 0x400
// (every listener) alone does nothing, and the listener must say so.
func TestListenServerBit(t *testing.T) {
	for _, tc := range []struct {
		mode sysctl.Mode
		on   bool
	}{{sysctl.ModeClient | sysctl.ModeServerAllListeners, false}, {sysctl.ModeClient | sysctl.ModeServer | sysctl.ModeServerAllListeners, true}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			h := labtest.Host(t, "core", int(tc.mode))
			addr, infos := echoServer(t, h, &fastopen.ListenConfig{}, "tcp4", "127.0.0.1:0")
			var l *fastopen.Listener
			labtest.Run(t, h, func() error {
				ln, err := (&fastopen.ListenConfig{}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
				if err == nil {
					l = ln.(*fastopen.Listener)
				}
				return err
			})
			defer l.Close()
			ok, why := l.FastOpen()
			if ok != tc.on || (!tc.on && why != fastopen.ReasonKernelOff) {
				t.Fatalf("FastOpen() = %v, %v; want %v", ok, why, tc.on)
			}
			// What the kernel did, by the server's account.
			var d fastopen.Dialer
			exchange(t, h, &d, "tcp4", addr, "cookie please")
			recv(t, infos)
			exchange(t, h, &d, "tcp4", addr, "second")
			if s := recv(t, infos); s.SYNData != tc.on {
				t.Fatalf("server info %+v: SYN data %v, want %v", s, s.SYNData, tc.on)
			}
			if tc.on {
				return
			}
			err := h.Run(func() error {
				_, err := (&fastopen.ListenConfig{Require: true}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
				return err
			})
			var op *net.OpError
			var fe *fastopen.Error
			if !errors.As(err, &op) || op.Op != "listen" || op.Addr == nil || !errors.As(err, &fe) || fe.Reason != fastopen.ReasonKernelOff || !errors.Is(err, fastopen.ErrNotUsed) {
				t.Fatalf("Require with mode %v: err = %#v, want a listen *net.OpError with the address wrapping *Error kernel_off", tc.mode, err)
			}
		})
	}
}

// TestListenQueueLen: the queue length is validated and what Listener
// reports is what the kernel holds, read back: the kernel caps it at
// net.core.somaxconn.
func TestListenQueueLen(t *testing.T) {
	h := labtest.Host(t, "core", 3)
	if err := h.SetSysctl("net.core.somaxconn", "1000"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ asked, held int }{{0, fastopen.DefaultQueueLen}, {5, 5}, {100000, 1000}} {
		l := labtest.Listen(t, h, &fastopen.ListenConfig{QueueLen: tc.asked}, "tcp4", "127.0.0.1:0").(*fastopen.Listener)
		if got := l.QueueLen(); got != tc.held {
			t.Errorf("QueueLen %d: listener reports %d, want %d (held by the kernel)", tc.asked, got, tc.held)
		}
	}
}

// TestListenErrors runs without root: bad queue lengths, an unreadable
// /proc/sys (injected) with and without Require, and non-TCP values give
// *net.OpError values that name the address and sentinels to match.
func TestListenErrors(t *testing.T) {
	queueLens := []int{-1}
	if big := int64(math.MaxInt32) + 1; math.MaxInt > math.MaxInt32 {
		queueLens = append(queueLens, int(big)) // beyond a C int (64-bit platforms only)
	}
	for _, q := range queueLens {
		_, err := (&fastopen.ListenConfig{QueueLen: q}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "listen" || op.Addr == nil || op.Addr.String() != "127.0.0.1:0" {
			t.Errorf("QueueLen %d: err = %v, want a listen *net.OpError naming 127.0.0.1:0", q, err)
		}
	}
	fastopen.SetFastOpenMode(func() (sysctl.Mode, error) { return 0, os.ErrPermission })
	defer fastopen.SetFastOpenMode(nil)
	ln, err := (&fastopen.ListenConfig{}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen with /proc/sys unreadable, Require unset: %v", err)
	}
	if ok, why := ln.(*fastopen.Listener).FastOpen(); ok || why != fastopen.ReasonUnknown {
		t.Errorf("FastOpen() with the mode unknown = %v, %v; want false, unknown", ok, why)
	}
	ln.Close()
	_, err = (&fastopen.ListenConfig{Require: true}).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	var fe *fastopen.Error
	if !errors.Is(err, fastopen.ErrNotUsed) || !errors.Is(err, os.ErrPermission) || !errors.As(err, &fe) || fe.Reason != fastopen.ReasonUnknown {
		t.Errorf("Require with /proc/sys unreadable: err = %v, want ErrNotUsed and the cause", err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := fastopen.InfoOf(a); !errors.Is(err, fastopen.ErrNotTCP) {
		t.Errorf("InfoOf(pipe) = %v, want ErrNotTCP", err)
	}
	if err := fastopen.Handshake(context.Background(), a); !errors.Is(err, fastopen.ErrNotTCP) {
		t.Errorf("Handshake(pipe) = %v, want ErrNotTCP", err)
	}
}
