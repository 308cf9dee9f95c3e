package trace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// guard fails the test's read once more than max bytes were taken: a
// reader that follows a record's claimed length reads far past it.
type guard struct {
	r   io.Reader
	n   int64
	max int64
}

var errReadTooMuch = errors.New("the reader consumed far more than one bounded record")

func (g *guard) Read(p []byte) (int, error) {
	if g.n > g.max {
		return 0, errReadTooMuch
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}

// TestReadRecordTooLarge: a pcap and a pcapng whose first packet claims
// 1 GiB (the bytes follow, as zeros) fail at once with ErrRecordTooLarge
// naming the claim and the bound, having read little of the stream; a
// lower Snaplen (--snaplen) refuses a record the default bound takes.
func TestReadRecordTooLarge(t *testing.T) {
	const claim = 1 << 30
	le := binary.LittleEndian
	// pcap: file header (nanosecond magic, snaplen 1 GiB, Ethernet), one
	// record header claiming 1 GiB.
	pcap := make([]byte, 24+16)
	le.PutUint32(pcap[0:], 0xa1b23c4d)
	le.PutUint16(pcap[4:], 2)
	le.PutUint16(pcap[6:], 4)
	le.PutUint32(pcap[16:], claim)
	le.PutUint32(pcap[20:], 1)
	le.PutUint32(pcap[24+8:], claim)
	le.PutUint32(pcap[24+12:], claim)
	// pcapng: section header (28 bytes), interface description (20
	// bytes, snaplen 0 = no limit), enhanced packet block claiming 1 GiB.
	var ng []byte
	ng = le.AppendUint32(ng, 0x0A0D0D0A)
	ng = le.AppendUint32(ng, 28)
	ng = le.AppendUint32(ng, 0x1A2B3C4D)
	ng = le.AppendUint16(ng, 1)
	ng = le.AppendUint16(ng, 0)
	ng = le.AppendUint64(ng, ^uint64(0))
	ng = le.AppendUint32(ng, 28)
	ng = le.AppendUint32(ng, 1)
	ng = le.AppendUint32(ng, 20)
	ng = le.AppendUint16(ng, 1)
	ng = le.AppendUint16(ng, 0)
	ng = le.AppendUint32(ng, 0)
	ng = le.AppendUint32(ng, 20)
	ng = le.AppendUint32(ng, 6)
	ng = le.AppendUint32(ng, claim+32)
	ng = le.AppendUint32(ng, 0)
	ng = le.AppendUint64(ng, 0)
	ng = le.AppendUint32(ng, claim)
	ng = le.AppendUint32(ng, claim)
	for name, hdr := range map[string][]byte{"pcap": pcap, "pcapng": ng} {
		g := &guard{r: io.MultiReader(bytes.NewReader(hdr), io.LimitReader(zeros{}, claim)), max: 4 * MaxSnaplen}
		_, _, err := Read(g, ReadOptions{})
		if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), "claims 10737418") || !strings.Contains(err.Error(), "the file is corrupt") {
			t.Errorf("%s: %v, want ErrRecordTooLarge naming the claim", name, err)
		}
		if g.n > 64<<10 {
			t.Errorf("%s: read %d bytes before refusing the record", name, g.n)
		}
	}
	golden, err := os.ReadFile("testdata/tfo-lo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(bytes.NewReader(golden), ReadOptions{}); err != nil {
		t.Fatalf("a good capture with the default bound: %v", err)
	}
	if _, _, err := Read(bytes.NewReader(golden), ReadOptions{Snaplen: 60}); !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), "more than 60") || !strings.Contains(err.Error(), "raise --snaplen") {
		t.Errorf("a good capture with Snaplen 60: %v, want ErrRecordTooLarge", err)
	}
}
