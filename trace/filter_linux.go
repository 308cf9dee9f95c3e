package trace

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Header offsets used by the classic BPF program (RFC 791, RFC 8200, RFC
// 9293).
const (
	ethHeaderLen     = 14
	ethTypeOffset    = 12
	ipv4ProtoOffset  = 9
	ipv4FragOffset   = 6
	ipv4FragMask     = 0x1fff
	ipv4SrcOffset    = 12
	ipv4DstOffset    = 16
	ipv6NextOffset   = 6
	ipv6SrcOffset    = 8
	ipv6DstOffset    = 24
	ipv6HeaderLen    = 40
	tcpDstPortOffset = 2
)

// Program assembles the classic BPF program that does the filter in the
// kernel, for frames of link type lt (Ethernet or raw IP). Accepted
// packets are cut to snaplen bytes. With skipOutgoing the program also
// drops packets the host is sending (PACKET_OUTGOING): on a loopback
// interface every packet shows up once leaving and once arriving, and
// keeping only the arrival avoids seeing it twice.
func (f Filter) Program(lt layers.LinkType, snaplen int, skipOutgoing bool) ([]bpf.Instruction, error) {
	if snaplen <= 0 {
		return nil, fmt.Errorf("snap length %d: must be positive", snaplen)
	}
	var a asm
	if skipOutgoing {
		a.emit(bpf.LoadExtension{Num: bpf.ExtType})
		a.jeq(unix.PACKET_OUTGOING, "reject", "")
	}
	var l uint32 // link header length
	switch lt {
	case layers.LinkTypeEthernet:
		l = ethHeaderLen
		a.emit(bpf.LoadAbsolute{Off: ethTypeOffset, Size: 2})
		a.jeq(uint32(layers.EthernetTypeIPv4), "ip4", "")
		a.jeq(uint32(layers.EthernetTypeIPv6), "ip6", "reject")
	case layers.LinkTypeRaw:
		a.emit(bpf.LoadAbsolute{Off: 0, Size: 1})
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
		a.jeq(4, "ip4", "")
		a.jeq(6, "ip6", "reject")
	default:
		return nil, fmt.Errorf("link type %v: the capture filter supports Ethernet and raw IP", lt)
	}

	a.label("ip4")
	a.emit(bpf.LoadAbsolute{Off: l + ipv4ProtoOffset, Size: 1})
	a.jeq(uint32(layers.IPProtocolTCP), "", "reject")
	a.emit(bpf.LoadAbsolute{Off: l + ipv4FragOffset, Size: 2})
	a.jset(ipv4FragMask, "reject", "")
	if f.Host.IsValid() {
		if !f.Host.Unmap().Is4() {
			a.jump("reject")
		} else {
			h := f.Host.Unmap().As4()
			v := uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
			a.emit(bpf.LoadAbsolute{Off: l + ipv4SrcOffset, Size: 4})
			a.jeq(v, "ip4port", "")
			a.emit(bpf.LoadAbsolute{Off: l + ipv4DstOffset, Size: 4})
			a.jeq(v, "", "reject")
		}
	}
	a.label("ip4port")
	if f.Port != 0 {
		a.emit(bpf.LoadMemShift{Off: l})
		a.emit(bpf.LoadIndirect{Off: l, Size: 2})
		a.jeq(uint32(f.Port), "accept", "")
		a.emit(bpf.LoadIndirect{Off: l + tcpDstPortOffset, Size: 2})
		a.jeq(uint32(f.Port), "accept", "reject")
	} else {
		a.jump("accept")
	}

	a.label("ip6")
	a.emit(bpf.LoadAbsolute{Off: l + ipv6NextOffset, Size: 1})
	a.jeq(uint32(layers.IPProtocolTCP), "", "reject")
	if f.Host.IsValid() {
		if f.Host.Is4() {
			a.jump("reject")
		} else {
			h := f.Host.As16()
			for _, base := range []uint32{ipv6SrcOffset, ipv6DstOffset} {
				next := fmt.Sprintf("ip6not%d", base)
				for w := uint32(0); w < 4; w++ {
					v := uint32(h[4*w])<<24 | uint32(h[4*w+1])<<16 | uint32(h[4*w+2])<<8 | uint32(h[4*w+3])
					a.emit(bpf.LoadAbsolute{Off: l + base + 4*w, Size: 4})
					a.jeq(v, "", next)
				}
				a.jump("ip6port")
				a.label(next)
			}
			a.jump("reject")
		}
	}
	a.label("ip6port")
	if f.Port != 0 {
		a.emit(bpf.LoadAbsolute{Off: l + ipv6HeaderLen, Size: 2})
		a.jeq(uint32(f.Port), "accept", "")
		a.emit(bpf.LoadAbsolute{Off: l + ipv6HeaderLen + tcpDstPortOffset, Size: 2})
		a.jeq(uint32(f.Port), "accept", "reject")
	} else {
		a.jump("accept")
	}

	a.label("accept")
	a.emit(bpf.RetConstant{Val: uint32(snaplen)})
	a.label("reject")
	a.emit(bpf.RetConstant{Val: 0})
	return a.resolve()
}

// asm is a tiny assembler for classic BPF with symbolic jump targets; ""
// as a target means the next instruction.
type asm struct {
	ins    []bpf.Instruction
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at          int
	true, false string
}

func (a *asm) emit(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) jeq(v uint32, ifTrue, ifFalse string) {
	a.fixups = append(a.fixups, fixup{len(a.ins), ifTrue, ifFalse})
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: v})
}

func (a *asm) jset(v uint32, ifTrue, ifFalse string) {
	a.fixups = append(a.fixups, fixup{len(a.ins), ifTrue, ifFalse})
	a.emit(bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: v})
}

func (a *asm) jump(to string) {
	a.fixups = append(a.fixups, fixup{len(a.ins), to, ""})
	a.emit(bpf.Jump{})
}

func (a *asm) resolve() ([]bpf.Instruction, error) {
	skip := func(from int, to string) (uint32, error) {
		if to == "" {
			return 0, nil
		}
		dst, ok := a.labels[to]
		if !ok {
			return 0, fmt.Errorf("bpf: undefined label %q", to)
		}
		n := dst - from - 1
		if n < 0 || n > 255 {
			return 0, fmt.Errorf("bpf: jump from %d to %q out of range", from, to)
		}
		return uint32(n), nil
	}
	for _, f := range a.fixups {
		t, err := skip(f.at, f.true)
		if err != nil {
			return nil, err
		}
		e, err := skip(f.at, f.false)
		if err != nil {
			return nil, err
		}
		switch i := a.ins[f.at].(type) {
		case bpf.JumpIf:
			i.SkipTrue, i.SkipFalse = uint8(t), uint8(e)
			a.ins[f.at] = i
		case bpf.Jump:
			i.Skip = t
			a.ins[f.at] = i
		}
	}
	return a.ins, nil
}
