package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netlink"

	"github.com/fastopen/fastopen/internal/tcpinfo"
	"github.com/fastopen/fastopen/internal/tcpmetrics"
	"github.com/fastopen/fastopen/trace"
)

// cookieOf returns the kernel's cached cookie for a and its fo_syn_drops
// (none when it holds no cookie for a): one tcp_metrics lookup of a, not
// a dump of the whole cache.
func cookieOf(a netip.Addr) ([]byte, int, error) {
	e, err := tcpmetrics.Get(a)
	switch {
	case errors.Is(err, tcpmetrics.ErrNotFound):
		return nil, 0, nil
	case err != nil:
		return nil, 0, err
	case len(e.Cookie) == 0:
		return nil, 0, nil
	}
	return e.Cookie, int(e.SYNDrops), nil
}

// synRetransmits is TCP_INFO's tcpi_total_retrans: right after a
// handshake that sent no data, the SYN's retransmissions.
func synRetransmits(sc syscall.Conn) (int, error) {
	ti, err := tcpinfo.Of(sc)
	if err != nil {
		return 0, err
	}
	return int(ti.Total_retrans), nil
}

// captureSnaplen keeps the headers (IPv6 40 + TCP 60) and a little more.
const captureSnaplen = 160

// maxCaptureBytes bounds the capture file kept in memory; a probe's few
// connections need a fraction of it.
const maxCaptureBytes = 4 << 20

type liveCapture struct {
	c   *trace.Capture
	buf *limitedBuffer
	ap  netip.AddrPort
}

// startCapture captures the probe's packets to and from ap on the
// interface the route to it leaves by.
func startCapture(ap netip.AddrPort) (capture, error) {
	routes, err := netlink.RouteGet(ap.Addr().AsSlice())
	if err != nil || len(routes) == 0 {
		return nil, fmt.Errorf("no route to %s: %v", ap.Addr(), err)
	}
	link, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return nil, fmt.Errorf("interface of the route to %s: %w", ap.Addr(), err)
	}
	buf := &limitedBuffer{max: maxCaptureBytes}
	c, err := trace.Start(trace.Options{
		Interface: link.Attrs().Name, Host: ap.Addr(), Port: int(ap.Port()),
		Snaplen: captureSnaplen, Pcap: buf, Format: trace.Pcap, DiscardEvents: true,
	})
	if err != nil {
		return nil, err
	}
	return &liveCapture{c: c, buf: buf, ap: ap}, nil
}

func (l *liveCapture) stop() (*CaptureEvidence, []string, error) {
	flows, err := l.c.Stop()
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	outcomes := map[trace.Outcome]int{}
	for _, f := range flows {
		outcomes[f.Outcome]++
	}
	for _, o := range []trace.Outcome{trace.CookieGranted, trace.NoCookie, trace.Accepted, trace.Refused, trace.CookieNoData, trace.NoTFO, trace.Incomplete} {
		if n := outcomes[o]; n > 0 {
			notes = append(notes, fmt.Sprintf("capture: %d connection(s) %s", n, o.Describe()))
		}
	}
	ce, err := analyse(l.buf.Bytes(), l.c.LinkType(), l.ap)
	if err != nil {
		return nil, notes, err
	}
	if ce.OptionBlanked {
		notes = append(notes, "capture: a SYN-ACK carried a run of NOP options where an option had been blanked out")
	}
	if a := ce.CookieRequestAnswered; a != nil {
		if *a {
			notes = append(notes, "capture: the SYN-ACK echoed the timestamp of the first (cookie request) SYN: the server received it and its answer was lost")
		} else {
			notes = append(notes, "capture: the SYN-ACK echoed the timestamp of the retransmitted SYN: the server never received the cookie request")
		}
	}
	return ce, notes, nil
}

// minBlankedNOPs is the shortest run of NOP options taken for an option
// blanked out by a middlebox: stacks pad with at most 3 NOPs for
// alignment (Linux uses at most 2 in a row).
const minBlankedNOPs = 4

// analyse reads the probe's capture for what the trace package's summary
// does not keep: NOP runs in SYN-ACK options, and which SYN a SYN-ACK's
// timestamp echoes.
func analyse(capFile []byte, lt layers.LinkType, ap netip.AddrPort) (*CaptureEvidence, error) {
	ce := &CaptureEvidence{}
	if len(capFile) == 0 {
		return ce, nil
	}
	r, err := pcapgo.NewReader(bytes.NewReader(capFile))
	if err != nil {
		return nil, fmt.Errorf("read own capture: %w", err)
	}
	const (
		undecided = iota
		answered
		notAnswered
	)
	type synInfo struct {
		tsvals  []uint32
		request bool // the first SYN asked for a cookie
		synacks int
		verdict int
	}
	syns := map[uint16]*synInfo{} // by client port
	var first gopacket.Decoder = layers.LayerTypeEthernet
	if lt == layers.LinkTypeRaw {
		first = layers.LayerTypeIPv4
	}
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		lf := first
		if lt == layers.LinkTypeRaw && len(data) > 0 && data[0]>>4 == 6 {
			lf = layers.LayerTypeIPv6
		}
		pkt := gopacket.NewPacket(data, lf, gopacket.NoCopy)
		tl, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || !tl.SYN {
			continue
		}
		var tsval, tsecr uint32
		var hasTS, tfo bool
		run, maxRun := 0, 0
		for _, o := range tl.Options {
			switch o.OptionType {
			case layers.TCPOptionKindNop:
				run++
				maxRun = max(maxRun, run)
				continue
			case layers.TCPOptionKindTimestamps:
				if len(o.OptionData) == 8 {
					hasTS = true
					tsval = binary.BigEndian.Uint32(o.OptionData[:4])
					tsecr = binary.BigEndian.Uint32(o.OptionData[4:])
				}
			case layers.TCPOptionKind(trace.OptionKindFastOpen):
				tfo = true
			}
			run = 0
		}
		if !tl.ACK { // the client's SYN
			port := uint16(tl.SrcPort)
			s := syns[port]
			if s == nil {
				s = &synInfo{request: tfo && len(tl.Payload) == 0}
				syns[port] = s
			}
			if hasTS {
				s.tsvals = append(s.tsvals, tsval)
			}
			continue
		}
		if maxRun >= minBlankedNOPs {
			ce.OptionBlanked = true
		}
		s := syns[uint16(tl.DstPort)]
		if s == nil || !s.request || len(s.tsvals) < 2 {
			continue
		}
		s.synacks++
		switch {
		case hasTS && tsecr == s.tsvals[0]:
			s.verdict = answered
		case hasTS && tsecr == s.tsvals[len(s.tsvals)-1] && s.verdict == undecided:
			s.verdict = notAnswered
		case !hasTS && s.synacks >= 2 && s.verdict == undecided:
			// No timestamps to tell, but two SYN-ACKs: the server
			// answered the first SYN (its own retransmission timer) and
			// the retransmitted one.
			s.verdict = answered
		}
	}
	for _, s := range syns {
		switch s.verdict {
		case answered:
			t := true
			ce.CookieRequestAnswered = &t
		case notAnswered:
			if ce.CookieRequestAnswered == nil {
				f := false
				ce.CookieRequestAnswered = &f
			}
		}
	}
	return ce, nil
}

// limitedBuffer is a bytes.Buffer that refuses to grow beyond max.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

var errCaptureFull = errors.New("capture buffer full")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len()+len(p) > b.max {
		return 0, errCaptureFull
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}
