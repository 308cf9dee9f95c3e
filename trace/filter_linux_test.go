package trace

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

func TestFilterProgram(t *testing.T) {
	v4 := seg{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 8000, flags: SYN, opts: []layers.TCPOption{tfoReq}}
	v4back := seg{src: "10.0.0.2", dst: "10.0.0.1", sport: 8000, dport: 40000, flags: SYN | ACK}
	v4other := seg{src: "10.0.0.1", dst: "10.0.0.3", sport: 40000, dport: 9000, flags: SYN}
	v6 := seg{v6: true, src: "fd00::1", dst: "fd00::2", sport: 40000, dport: 8000, flags: SYN}
	v6other := seg{v6: true, src: "fd00::1", dst: "fd00::3", sport: 40000, dport: 9000, flags: SYN}
	for _, lt := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw} {
		for _, tc := range []struct {
			name   string
			f      Filter
			s      seg
			accept bool
		}{
			{"any tcp", Filter{}, v4other, true},
			{"port dst", Filter{Port: 8000}, v4, true},
			{"port src", Filter{Port: 8000}, v4back, true},
			{"port miss", Filter{Port: 8000}, v4other, false},
			{"host src", Filter{Host: netip.MustParseAddr("10.0.0.1")}, v4other, true},
			{"host dst", Filter{Host: netip.MustParseAddr("10.0.0.2")}, v4, true},
			{"host miss", Filter{Host: netip.MustParseAddr("10.0.0.9")}, v4, false},
			{"host and port", Filter{Port: 9000, Host: netip.MustParseAddr("10.0.0.3")}, v4other, true},
			{"host but not port", Filter{Port: 8000, Host: netip.MustParseAddr("10.0.0.3")}, v4other, false},
			{"v4 host, v6 packet", Filter{Host: netip.MustParseAddr("10.0.0.1")}, v6, false},
			{"v6 port", Filter{Port: 8000}, v6, true},
			{"v6 port miss", Filter{Port: 8000}, v6other, false},
			{"v6 host dst", Filter{Host: netip.MustParseAddr("fd00::2")}, v6, true},
			{"v6 host src", Filter{Host: netip.MustParseAddr("fd00::1"), Port: 9000}, v6other, true},
			{"v6 host miss", Filter{Host: netip.MustParseAddr("fd00::9")}, v6, false},
		} {
			t.Run(lt.String()+"/"+tc.name, func(t *testing.T) {
				prog, err := tc.f.Program(lt, 96, false)
				if err != nil {
					t.Fatal(err)
				}
				vm, err := bpf.NewVM(prog)
				if err != nil {
					t.Fatalf("filter %s does not load: %v", tc.f, err)
				}
				frame := build(t, lt, tc.s)
				n, err := vm.Run(frame)
				if err != nil {
					t.Fatal(err)
				}
				want := 0 // the kernel keeps min(verdict, length); the VM returns the verdict
				if tc.accept {
					want = 96
				}
				if n != want {
					t.Errorf("filter %s kept %d bytes of %s → %s, want %d", tc.f, n, tc.s.src, tc.s.dst, want)
				}
				p, err := Decode(frame, lt)
				if err != nil {
					t.Fatal(err)
				}
				if tc.f.Match(p) != tc.accept {
					t.Errorf("Filter.Match disagrees with the kernel program")
				}
			})
		}
	}
	// Non-TCP and fragments are dropped in the kernel.
	prog, _ := Filter{}.Program(layers.LinkTypeRaw, 96, false)
	vm, _ := bpf.NewVM(prog)
	frag := build(t, layers.LinkTypeRaw, v4)
	frag[7] = 0x10 // fragment offset 16*8
	udp := build(t, layers.LinkTypeRaw, v4)
	udp[9] = byte(layers.IPProtocolUDP)
	for name, f := range map[string][]byte{"fragment": frag, "udp": udp} {
		if n, _ := vm.Run(f); n != 0 {
			t.Errorf("%s kept (%d bytes)", name, n)
		}
	}
	if _, err := (Filter{}).Program(layers.LinkTypeFDDI, 96, false); err == nil {
		t.Error("unsupported link type accepted")
	}
}
