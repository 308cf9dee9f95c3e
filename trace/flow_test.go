package trace

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// synFrom decodes a SYN from the given client port to 10.0.0.2:8000.
func synFrom(t testing.TB, port uint16) Packet {
	t.Helper()
	p, err := Decode(build(t, layers.LinkTypeRaw, seg{src: "10.0.0.1", dst: "10.0.0.2", sport: port, dport: 8000, flags: SYN, seq: 1}), layers.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTrackerMaxFlows: a long capture keeps only the latest MaxFlows
// connections, forgets the oldest (their later segments have no
// connection), and the summary says what it left out.
func TestTrackerMaxFlows(t *testing.T) {
	t0 := time.Now()
	tr := NewTracker(0)
	tr.MaxFlows = 3
	for port := uint16(1); port <= 5; port++ {
		tr.Add(t0, synFrom(t, port))
	}
	fl := tr.Flows()
	if len(fl) != 3 || fl[0].ID != 3 || fl[2].ID != 5 || tr.Forgotten() != 2 {
		t.Fatalf("kept %d flows from ID %d, forgot %d; want 3 (IDs 3-5), forgot 2", len(fl), fl[0].ID, tr.Forgotten())
	}
	if ev := tr.Add(t0, synFrom(t, 5)); ev.Flow != 5 || ev.Note != "SYN (retransmission)" {
		t.Errorf("a kept connection's segment: %+v", ev)
	}
	if len(tr.flows) != 3 {
		t.Errorf("%d connections still indexed, want 3", len(tr.flows))
	}
	var b strings.Builder
	NewPrinter(&b).Summary(fl)
	if !strings.Contains(b.String(), "connections 1 to 2 are not listed: only the latest 3 are kept") {
		t.Errorf("summary does not say what it left out:\n%s", b.String())
	}
}

// BenchmarkTrackerManyConnections measures the memory a capture holds
// per connection, at the default bound: the allocations of a connection
// start, and the live heap once DefaultMaxFlows are kept.
func BenchmarkTrackerManyConnections(b *testing.B) {
	syns := make([]Packet, 1<<16)
	for i := range syns {
		syns[i] = synFrom(b, uint16(i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	tr := NewTracker(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := syns[i%len(syns)]
		p.Seq = uint32(i) // a new connection even when the port repeats
		tr.Add(t0, p)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := len(tr.Flows()); n > DefaultMaxFlows {
		b.Fatalf("%d flows kept, bound %d", n, DefaultMaxFlows)
	}
	b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "heap-B")
	runtime.KeepAlive(tr)
	runtime.KeepAlive(syns)
}

// TestPrinterConstantMemory: the Printer heads each connection once and
// says when an interleaved one continues, and it keeps nothing per
// connection: a live capture printing for days (200,000 connections here)
// does not grow. It held one map entry per connection ever printed,
// about 3 MB here, found by scripts/soak-trace.sh.
func TestPrinterConstantMemory(t *testing.T) {
	var b strings.Builder
	p := NewPrinter(&b)
	syn := synFrom(t, 1)
	for _, id := range []int{1, 2, 1, 2, 3} {
		p.Event(Event{Flow: id, Dir: ToServer, Packet: syn, Note: "x"})
	}
	for _, want := range []string{"connection 1: client", "connection 2: client", "connection 1 (continued):", "connection 2 (continued):", "connection 3: client"} {
		if strings.Count(b.String(), want) != 1 {
			t.Errorf("want %q once in:\n%s", want, b.String())
		}
	}

	p = NewPrinter(io.Discard)
	const conns = 200000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for id := 1; id <= conns; id++ {
		p.Event(Event{Flow: id, Dir: ToServer, Packet: syn, Note: "SYN"})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 512<<10 {
		t.Errorf("heap grew by %d KiB over %d connections printed; want a Printer of constant size", grew>>10, conns)
	}
	runtime.KeepAlive(p)
}
