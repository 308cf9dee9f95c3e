package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Format is a capture file format.
type Format int

// Capture file formats.
const (
	// Pcap is the classic libpcap format (nanosecond timestamps).
	Pcap Format = iota
	// PcapNG is the pcapng format.
	PcapNG
)

// String names the format.
func (f Format) String() string {
	if f == PcapNG {
		return "pcapng"
	}
	return "pcap"
}

// FormatForPath picks PcapNG for a ".pcapng" file name and Pcap otherwise.
func FormatForPath(path string) Format {
	if len(path) > len(".pcapng") && path[len(path)-len(".pcapng"):] == ".pcapng" {
		return PcapNG
	}
	return Pcap
}

// DefaultSnaplen is the snap length used when none is given: whole
// packets, so that saved captures keep the payload too.
const DefaultSnaplen = 65535

// Writer writes captured frames to a pcap or pcapng stream that tshark and
// Wireshark read. It is not safe for concurrent use.
type Writer struct {
	pcap *pcapgo.Writer
	ng   *pcapgo.NgWriter
}

// NewWriter starts a capture file on w for frames of link type lt
// (layers.LinkTypeEthernet for lo and veth, layers.LinkTypeRaw for a TUN
// device) and writes its header. snaplen, the most bytes kept per frame,
// is DefaultSnaplen when zero or negative. The error is the header's
// write error.
func NewWriter(w io.Writer, format Format, lt layers.LinkType, snaplen int) (*Writer, error) {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	if format == PcapNG {
		ng, err := pcapgo.NewNgWriterInterface(w, pcapgo.NgInterface{
			Name: "fastopen", LinkType: lt, SnapLength: uint32(snaplen),
			TimestampResolution: 9,
		}, pcapgo.DefaultNgWriterOptions)
		if err != nil {
			return nil, fmt.Errorf("start pcapng: %w", err)
		}
		return &Writer{ng: ng}, nil
	}
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(uint32(snaplen), lt); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return &Writer{pcap: pw}, nil
}

// WritePacket appends one frame, stamped with ci.Timestamp; ci.CaptureLength
// and ci.Length must describe frame as gopacket's writers require.
func (w *Writer) WritePacket(ci gopacket.CaptureInfo, frame []byte) error {
	if w.ng != nil {
		// The file has one interface, id 0; a live capture's
		// InterfaceIndex is the kernel's ifindex, which means nothing here.
		ci.InterfaceIndex = 0
		return w.ng.WritePacket(ci, frame)
	}
	return w.pcap.WritePacket(ci, frame)
}

// Flush writes out buffered data (pcapng buffers; pcap does not).
func (w *Writer) Flush() error {
	if w.ng != nil {
		return w.ng.Flush()
	}
	return nil
}

// ReadOptions tunes Read.
type ReadOptions struct {
	// Filter keeps only matching segments (zero value: all TCP).
	Filter Filter
	// RTT, when positive, is the known round-trip time (see NewTracker).
	RTT time.Duration
	// OnEvent, when set, is called for every event as it is decoded.
	OnEvent func(Event)
	// DiscardEvents stops Read from keeping events (it then returns
	// none); use it with OnEvent for large files.
	DiscardEvents bool
	// MaxFlows bounds the connections kept (see Tracker.MaxFlows;
	// DefaultMaxFlows if zero).
	MaxFlows int
	// Snaplen bounds the bytes of one packet record (and of one pcapng
	// block, plus room for its fields and options): a record that claims
	// more stops Read with an error wrapping ErrRecordTooLarge before its
	// bytes are read. Zero means MaxSnaplen; more than MaxSnaplen is
	// refused.
	Snaplen int
}

// pcapHeaderLen is the length of a pcap file header, the shortest
// capture file there is (a pcapng section header block is longer).
const pcapHeaderLen = 24

// ErrFormat is returned (wrapped) by Read when a stream is neither pcap
// nor pcapng, or is too short to be either; the message says which.
var ErrFormat = errors.New("not a pcap or pcapng capture")

// Read decodes a pcap or pcapng stream the way a live capture is decoded
// and returns the events and the per-connection summaries. Frames that are
// not TCP are skipped; frames that do not decode become events with Err
// set. A stream that is not a capture gives an error wrapping ErrFormat;
// one cut short (a truncated file) gives the events and flows decoded
// until then, with an error naming the packet.
func Read(r io.Reader, opts ReadOptions) ([]Event, []Flow, error) {
	snaplen := opts.Snaplen
	if snaplen == 0 {
		snaplen = MaxSnaplen
	}
	if snaplen < 0 || snaplen > MaxSnaplen {
		return nil, nil, fmt.Errorf("snap length %d: want 1 to %d", snaplen, MaxSnaplen)
	}
	br := bufio.NewReader(r)
	hdr, err := br.Peek(pcapHeaderLen)
	switch {
	case len(hdr) == 0 && err == io.EOF:
		return nil, nil, fmt.Errorf("%w: the file is empty", ErrFormat)
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, nil, fmt.Errorf("%w: the file is only %d bytes long, shorter than a capture file header", ErrFormat, len(hdr))
	case err != nil:
		return nil, nil, err
	}
	magic := hdr[:4]
	var (
		src interface {
			ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		}
		lt layers.LinkType
	)
	isNG := bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a})
	bounded := newBoundedReader(br, isNG, snaplen)
	if isNG {
		ng, err := pcapgo.NewNgReader(bounded, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			if errors.Is(err, ErrFormat) || errors.Is(err, ErrRecordTooLarge) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		src, lt = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(bounded)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		src, lt = pr, pr.LinkType()
	}
	tr := NewTracker(opts.RTT)
	tr.MaxFlows = opts.MaxFlows
	var events []Event
	n := 0
	for {
		frame, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return events, tr.Flows(), &truncatedError{packet: n + 1, err: err}
		}
		if errors.Is(err, ErrRecordTooLarge) || errors.Is(err, ErrFormat) {
			return events, tr.Flows(), err
		}
		if err != nil {
			return events, tr.Flows(), fmt.Errorf("read packet %d: %w", n+1, err)
		}
		n++ // frames read, for the error above
		ev, ok := decodeEvent(tr, opts.Filter, ci.Timestamp, frame, lt)
		if !ok {
			continue
		}
		if !opts.DiscardEvents {
			events = append(events, ev)
		}
		if opts.OnEvent != nil {
			opts.OnEvent(ev)
		}
	}
	return events, tr.Flows(), nil
}

// decodeEvent decodes a frame and feeds the tracker; ok is false for a
// frame to skip (not TCP, or not matching the filter).
func decodeEvent(tr *Tracker, f Filter, ts time.Time, frame []byte, lt layers.LinkType) (Event, bool) {
	p, err := Decode(frame, lt)
	if errors.Is(err, ErrNotTCP) {
		return Event{}, false
	}
	if err != nil {
		return Event{Time: ts, Note: "undecodable packet: " + err.Error(), Err: err.Error()}, true
	}
	if !f.Match(p) {
		return Event{}, false
	}
	return tr.Add(ts, p), true
}

// ReadFile decodes a saved pcap or pcapng file; see Read. Errors name the
// file.
func ReadFile(path string) ([]Event, []Flow, error) {
	return ReadFileOptions(path, ReadOptions{})
}

// ReadFileOptions is ReadFile with options.
func ReadFileOptions(path string, opts ReadOptions) ([]Event, []Flow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("capture file: %w", err)
	}
	defer f.Close()
	ev, fl, err := Read(f, opts)
	if err != nil {
		return ev, fl, fmt.Errorf("%s: %w", path, err)
	}
	return ev, fl, nil
}

// truncatedError is Read's error for a file cut short in a packet: its
// text says so in words, and it still matches io.ErrUnexpectedEOF.
type truncatedError struct {
	packet int
	err    error
}

func (e *truncatedError) Error() string {
	return fmt.Sprintf("packet %d is cut short: the file is truncated", e.packet)
}

func (e *truncatedError) Unwrap() error { return e.err }
