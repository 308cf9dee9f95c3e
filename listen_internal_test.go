package fastopen

import (
	"net"
	"syscall"
	"testing"
)

// TestMultipathAsked: only an explicit SetMultipathTCP(true) counts as
// asking for MPTCP, whatever Go's default, and other fields do not
// disturb the answer.
func TestMultipathAsked(t *testing.T) {
	var zero, on, off, onWithControl net.ListenConfig
	on.SetMultipathTCP(true)
	off.SetMultipathTCP(false)
	onWithControl.SetMultipathTCP(true)
	onWithControl.Control = func(string, string, syscall.RawConn) error { return nil }
	onWithControl.KeepAlive = 1
	for _, tc := range []struct {
		name string
		lc   *net.ListenConfig
		want bool
	}{{"zero (Go's default)", &zero, false}, {"SetMultipathTCP(true)", &on, true}, {"SetMultipathTCP(false)", &off, false}, {"true, with Control and KeepAlive", &onWithControl, true}} {
		if got := multipathAsked(tc.lc); got != tc.want {
			t.Errorf("%s: multipathAsked = %v, want %v (MultipathTCP() = %v)", tc.name, got, tc.want, tc.lc.MultipathTCP())
		}
	}
}
