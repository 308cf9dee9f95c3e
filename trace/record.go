package trace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxSnaplen is the largest record Read accepts by default: tcpdump's
// and Wireshark's maximum snap length (MAXIMUM_SNAPLEN, 262144), so every
// capture they write reads back, while a corrupt or hostile header that
// claims more (up to 4 GiB) is refused before anything is allocated.
const MaxSnaplen = 262144

// ErrRecordTooLarge is wrapped by Read's error when a packet record or a
// pcapng block claims more bytes than the bound (ReadOptions.Snaplen).
var ErrRecordTooLarge = errors.New("capture record larger than the snap length")

// pcapng framing: a block is type (4 bytes), total length (4), body,
// total length again (4); the section header block (type 0x0A0D0D0A)
// carries the byte-order magic 0x1A2B3C4D right after its length
// (pcapng specification, section 4.1).
const (
	ngSectionHeader  = 0x0A0D0D0A
	ngByteOrderMagic = 0x1A2B3C4D
	ngMinBlock       = 12
	// ngBlockOverhead is what a block may hold besides its packet: the
	// enhanced packet block's 28 bytes of framing and fields, and
	// options (comments, hashes, flags).
	ngBlockOverhead = 64 << 10
)

// pcapRecordHeader is the length of a pcap record header; the captured
// length is at bytes 8-12.
const pcapRecordHeader = 16

// boundedReader passes a pcap or pcapng stream through unchanged while
// checking, before any record's body is read, that the record's length
// is within max: the decoder behind it never allocates or reads more
// than that for one packet.
type boundedReader struct {
	r       *bufio.Reader
	ng      bool
	order   binary.ByteOrder
	max     int
	started bool
	pending []byte // header bytes checked and not yet returned
	left    int64  // body bytes of the current record still to pass
	n       int    // records seen, for errors
}

func newBoundedReader(r *bufio.Reader, ng bool, max int) *boundedReader {
	return &boundedReader{r: r, ng: ng, max: max}
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if len(b.pending) == 0 && b.left == 0 {
		if err := b.next(); err != nil {
			return 0, err
		}
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// next reads and checks the next header; a header cut short is passed on
// as it is, for the decoder to report the truncation.
func (b *boundedReader) next() error {
	var size int
	switch {
	case !b.started && !b.ng:
		size = pcapHeaderLen
	case b.ng:
		size = 8
	default:
		size = pcapRecordHeader
	}
	hdr := make([]byte, size, max(size, 12))
	n, err := io.ReadFull(b.r, hdr)
	if err != nil {
		if n == 0 {
			return err
		}
		b.pending = hdr[:n]
		return nil
	}
	if b.ng {
		return b.ngBlock(hdr)
	}
	if !b.started {
		b.started = true
		b.order = binary.BigEndian
		if hdr[0] == 0xd4 || hdr[0] == 0x4d { // a1b2c3d4 or a1b23c4d, little-endian
			b.order = binary.LittleEndian
		}
		b.pending = hdr
		return nil
	}
	b.n++
	caplen := int64(b.order.Uint32(hdr[8:12]))
	if caplen > int64(b.max) {
		return fmt.Errorf("%w: packet %d claims %d bytes, more than %d: %s", ErrRecordTooLarge, b.n, caplen, b.max, b.remedy())
	}
	b.pending, b.left = hdr, caplen
	return nil
}

// ngBlock checks a pcapng block header (type and total length; for a
// section header also its byte-order magic, which sets the order).
func (b *boundedReader) ngBlock(hdr []byte) error {
	if binary.LittleEndian.Uint32(hdr[0:4]) == ngSectionHeader {
		bom := hdr[8:12]
		n, err := io.ReadFull(b.r, bom)
		hdr = hdr[:8+n]
		if err != nil {
			b.pending = hdr
			return nil
		}
		switch {
		case binary.LittleEndian.Uint32(bom) == ngByteOrderMagic:
			b.order = binary.LittleEndian
		case binary.BigEndian.Uint32(bom) == ngByteOrderMagic:
			b.order = binary.BigEndian
		default:
			b.pending = hdr // the decoder reports the bad magic
			return nil
		}
	}
	if b.order == nil {
		return fmt.Errorf("%w: a pcapng block before the section header", ErrFormat)
	}
	b.n++
	length := int64(b.order.Uint32(hdr[4:8]))
	if length < ngMinBlock {
		return fmt.Errorf("%w: pcapng block %d claims %d bytes, less than the %d of an empty block: the file is corrupt", ErrFormat, b.n, length, ngMinBlock)
	}
	if limit := int64(b.max) + ngBlockOverhead; length > limit {
		return fmt.Errorf("%w: pcapng block %d claims %d bytes, more than %d: %s", ErrRecordTooLarge, b.n, length, limit, b.remedy())
	}
	b.pending, b.left = hdr, length-int64(len(hdr))
	return nil
}

// remedy says what to do about a record over the bound.
func (b *boundedReader) remedy() string {
	if b.max < MaxSnaplen {
		return fmt.Sprintf("the file is corrupt, or raise --snaplen (at most %d)", MaxSnaplen)
	}
	return "the file is corrupt (no capture tool writes larger records)"
}
