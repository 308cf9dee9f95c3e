package labtest

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastopen/fastopen/lab"
)

// WaitAccepting waits until something accepts connections on addr inside
// h (dialed from h itself: no emulated delay, nothing cached at the
// client). It fails the test after 10 s, or at once when exited is closed
// (the program behind addr ended; nil: not watched); what names that
// program and log (nil: none) returns what it printed, for the message.
func WaitAccepting(t testing.TB, h *lab.Host, addr string, exited <-chan struct{}, what string, log func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.Run(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return
		}
		printed := ""
		if log != nil {
			printed = "; " + log()
		}
		select {
		case <-exited:
			t.Fatalf("%s exited%s", what, printed)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections on %s: %v%s", what, addr, err, printed)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartDaemon starts the server program name args in h, returns once it
// accepts connections on addr (WaitAccepting), and stops it when the test
// ends (SIGTERM, SIGKILL after 3 s). What it printed, and the files in
// logs, are shown when it fails to start.
func StartDaemon(t testing.TB, h *lab.Host, addr, what string, logs []string, name string, args ...string) {
	t.Helper()
	cmd := h.Command(name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	WaitAccepting(t, h, addr, exited, what, func() string {
		s := out.String()
		for _, f := range logs {
			b, _ := os.ReadFile(f)
			s += string(b)
		}
		return s
	})
}

// StartNginx runs nginx in h until the test ends, once it accepts
// connections on addr (on the loopback when addr's address is
// unspecified). config returns its nginx.conf for the prefix directory dir
// (bench.NginxConfig, which this package cannot import: bench's tests
// import it).
func StartNginx(t testing.TB, h *lab.Host, addr netip.AddrPort, config func(dir string) string) {
	t.Helper()
	nginx := NeedCommand(t, "nginx")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(config(dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	wait := addr
	if addr.Addr().IsUnspecified() {
		wait = netip.AddrPortFrom(netip.IPv6Loopback(), addr.Port())
		if addr.Addr().Is4() {
			wait = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), addr.Port())
		}
	}
	StartDaemon(t, h, wait.String(), "nginx", []string{filepath.Join(dir, "error.log")}, nginx, "-p", dir, "-c", conf)
}
