package tcpmetrics_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/internal/tcpmetrics"
)

// TestGetDumpDelete: after a TFO cookie request on a namespace's loopback the
// kernel's entry for 127.0.0.1 holds the cookie and an RTT, as Get and
// Dump report; Delete removes it (then Get and Delete say ErrNotFound).
func TestGetDumpDelete(t *testing.T) {
	h := labtest.Host(t, "tcpmetrics", 3)
	ln := labtest.Listen(t, h, labtest.RawListenConfig(5), "tcp4", "127.0.0.1:0")
	labtest.Serve(ln, func(c net.Conn) { io.Copy(c, c) })
	dest := netip.MustParseAddr("127.0.0.1")
	labtest.Run(t, h, func() error {
		// One connection: it asks for the cookie; its end saves the RTT.
		c, err := labtest.RawDialer(5*time.Second).Dial("tcp4", ln.Addr().String())
		if err != nil {
			return err
		}
		c.Write([]byte("x"))
		io.ReadFull(c, make([]byte, 1))
		return c.Close()
	})
	labtest.Run(t, h, func() error {
		// The kernel saves the RTT when a connection ends (TIME_WAIT),
		// after Close returned: poll for it.
		var e tcpmetrics.Entry
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var err error
			if e, err = tcpmetrics.Get(dest); err != nil {
				return err
			}
			if e.RTT > 0 || time.Now().After(deadline) {
				break
			}
		}
		if e.Dest != dest || len(e.Cookie) == 0 || e.RTT <= 0 || e.RTT > time.Second || e.SYNDrops != 0 {
			t.Errorf("Get: %+v, want 127.0.0.1 with a cookie, an RTT and no SYN drops", e)
		}
		// The RTT as iproute2 decodes it (µs, the kernel's scaled value
		// shifted back), in the same namespace.
		if _, err := exec.LookPath("ip"); err == nil {
			out, err := h.Command("ip", "tcp_metrics", "show", "127.0.0.1").Output()
			if err != nil {
				return err
			}
			if f := strings.Fields(string(out)); slices.Contains(f, "rtt") {
				want := f[slices.Index(f, "rtt")+1]
				if got := strconv.FormatInt(e.RTT.Microseconds(), 10) + "us"; got != want {
					t.Errorf("RTT %s, ip tcp_metrics says %s", got, want)
				}
			}
		}
		es, err := tcpmetrics.Dump()
		if err != nil {
			return err
		}
		if len(es) != 1 || es[0].Dest != dest || string(es[0].Cookie) != string(e.Cookie) {
			t.Errorf("Dump: %+v, want the one entry Get returned", es)
		}
		if err := tcpmetrics.Delete(dest); err != nil {
			return err
		}
		if _, err := tcpmetrics.Get(dest); !errors.Is(err, tcpmetrics.ErrNotFound) {
			t.Errorf("Get after Delete: %v, want ErrNotFound", err)
		}
		if err := tcpmetrics.Delete(dest); !errors.Is(err, tcpmetrics.ErrNotFound) {
			t.Errorf("Delete of nothing: %v, want ErrNotFound", err)
		}
		return nil
	})
}
