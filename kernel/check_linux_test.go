package kernel_test

import (
	"strings"
	"testing"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/key"
	"github.com/fastopen/fastopen/sysctl"
)

func TestCheckFollowsSysctl(t *testing.T) {
	cases := []struct {
		mode           int
		client, server bool
		advice         []string // substrings the advice must contain
		notAdvice      []string
	}{
		{0, false, false, []string{"fastopen enable both"}, nil},
		{1, true, false, []string{"server side off"}, []string{"client side off"}},
		{2, false, true, []string{"client side off"}, []string{"server side off"}},
		{3, true, true, nil, []string{"side off", "0x4", "0x200"}},
		{0x207, true, true, []string{"0x4", "0x200", "sysctl -w net.ipv4.tcp_fastopen=515"}, []string{"side off", "no effect"}},
		// Modifier bits without their side's main bit do nothing: say so,
		// and do not warn about what they would do.
		{0x604, false, false, []string{"fastopen enable both", "0x4 (client-no-cookie) has no effect", "0x200 (server-no-cookie) has no effect", "0x400 (server-all-listeners) has no effect"},
			[]string{"sends SYN data without a cookie", "spoofed", "every listener"}},
	}
	var seen []string
	for _, c := range cases {
		h := labtest.Host(t, "check", c.mode)
		var r *kernel.Report
		labtest.Run(t, h, func() (err error) {
			r, err = kernel.Check()
			return err
		})
		if r.Sysctl != c.mode || r.Client != c.client || r.Server != c.server {
			t.Errorf("mode %#x: report sysctl=%#x client=%v server=%v, want client=%v server=%v", c.mode, r.Sysctl, r.Client, r.Server, c.client, c.server)
		}
		if r.Namespace.Name != h.NS || r.Namespace.Host {
			t.Errorf("mode %#x: checked %v, want namespace %s", c.mode, r.Namespace, h.NS)
		}
		for _, b := range r.Bits {
			if want := c.mode&int(b.Mask) != 0; b.Set != want {
				t.Errorf("mode %#x: bit %s set=%v, want %v", c.mode, b.Name, b.Set, want)
			}
		}
		all := strings.Join(r.Advice, "\n")
		for _, s := range c.advice {
			if !strings.Contains(all, s) {
				t.Errorf("mode %#x: advice lacks %q:\n%s", c.mode, s, all)
			}
		}
		for _, s := range c.notAdvice {
			if strings.Contains(all, s) {
				t.Errorf("mode %#x: advice should not mention %q:\n%s", c.mode, s, all)
			}
		}
		if !r.Support.Connect || !r.Support.Listener || !r.Support.KeyOption {
			t.Errorf("mode %#x: probe found no TFO socket options on Linux: %+v", c.mode, r.Support)
		}
		if len(r.Counters) < 8 {
			t.Errorf("mode %#x: %d TFO counters, want all 8", c.mode, len(r.Counters))
		}
		seen = append(seen, all)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Errorf("advice for modes %#x and %#x is the same", cases[i-1].mode, cases[i].mode)
		}
	}
}

func TestCheckSeesKeyAndRefusedCookies(t *testing.T) {
	h := labtest.Host(t, "key", 3)
	check := func() *kernel.Report {
		var r *kernel.Report
		labtest.Run(t, h, func() (err error) { r, err = kernel.Check(); return err })
		return r
	}
	if r := check(); r.ServerKey != key.KeyStateNotSet || !strings.Contains(strings.Join(r.Advice, " "), "no server key") {
		t.Fatalf("fresh namespace: server key %q, advice %q; want not set and advice about it", r.ServerKey, r.Advice)
	}
	k, _ := fastopen.NewKey()
	labtest.Run(t, h, func() error { return key.SetSysctlKey(k, nil) })
	r := check()
	if r.ServerKey != key.KeyStateSet || strings.Contains(strings.Join(r.Advice, " "), "no server key") {
		t.Fatal("key set through the sysctl, but Check says none")
	}
	if strings.Contains(strings.Join(r.Advice, " "), k.String()) {
		t.Fatal("Check printed the server key")
	}
}

// TestChangeRoleOnlyThatNamespace: enabling and disabling act on the
// calling thread's namespace and leave the host's sysctl alone.
func TestChangeRoleOnlyThatNamespace(t *testing.T) {
	hostBefore, err := sysctl.FastOpenMode()
	if err != nil {
		t.Fatal(err)
	}
	h := labtest.Host(t, "enable", 0)
	var c kernel.Change
	labtest.Run(t, h, func() (err error) { c, err = kernel.ChangeRole(sysctl.RoleServer, true); return err })
	if c.Before != 0 || c.After != sysctl.ModeServer || c.Namespace.Name != h.NS || c.Namespace.Host {
		t.Fatalf("enable server: %+v, want 0 -> 0x2 in %s", c, h.NS)
	}
	if v, _ := h.Sysctl(sysctl.FastOpen); v != "2" {
		t.Fatalf("namespace sysctl %s, want 2", v)
	}
	labtest.Run(t, h, func() (err error) { c, err = kernel.ChangeRole(sysctl.RoleClient, true); return err })
	if c.After != 3 {
		t.Fatalf("enable client after server: %#x, want 0x3", int(c.After))
	}
	labtest.Run(t, h, func() error { return sysctl.SetFastOpenMode(0x607) })
	labtest.Run(t, h, func() (err error) { c, err = kernel.ChangeRole(sysctl.RoleServer, false); return err })
	if c.After != sysctl.ModeClient|sysctl.ModeClientNoCookie {
		t.Fatalf("disable server of 0x607: %#x, want 0x5", int(c.After))
	}
	if hostAfter, _ := sysctl.FastOpenMode(); hostAfter != hostBefore {
		t.Fatalf("the host's sysctl changed from %#x to %#x", int(hostBefore), int(hostAfter))
	}
	if ns, err := kernel.CurrentNamespace(); err != nil || ns.Inode == c.Namespace.Inode {
		t.Fatalf("test namespace and process namespace are the same (%v)", err)
	}
}
