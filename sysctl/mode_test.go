package sysctl_test

import (
	"strings"
	"testing"

	"github.com/fastopen/fastopen/sysctl"
)

func TestModeWords(t *testing.T) {
	if got := sysctl.Mode(0x207).String(); got != "0x207 (client+server+client-no-cookie+server-no-cookie)" {
		t.Errorf("0x207 = %q", got)
	}
	if got := sysctl.Mode(0).String(); got != "0x0 (off)" {
		t.Errorf("0 = %q", got)
	}
	bits := sysctl.Mode(0x1001).Bits()
	if last := bits[len(bits)-1]; last.Mask != 0x1000 || !last.Set || !strings.HasPrefix(last.Name, "unknown") {
		t.Errorf("undocumented bit 0x1000 not reported: %+v", last)
	}
	if m := sysctl.Mode(0x607).Disable(sysctl.RoleServer); m != 0x5 {
		t.Errorf("0x607 without server = %#x, want 0x5", int(m))
	}
	if m := sysctl.Mode(0x5).Disable(sysctl.RoleClient).Enable(sysctl.RoleServer); m != 0x2 {
		t.Errorf("got %#x, want 0x2", int(m))
	}
	if _, err := sysctl.ParseRole("servr"); err == nil {
		t.Error("ParseRole accepted a typo")
	}
}
