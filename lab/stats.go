package lab

import (
	"sync"
	"time"
)

// Stats is a snapshot of the link's counters.
type Stats struct {
	// Up is client → server, Down server → client.
	Up, Down DirStats
	// Rules holds one entry per configured fault rule, in order.
	Rules []RuleStats
	// Seed is the random seed in use (set Config.Seed to it to replay).
	Seed uint64
}

// DirStats counts one direction of the link.
type DirStats struct {
	// Packets and Bytes were read from the sending host.
	Packets, Bytes uint64
	// Delivered packets were written to the receiving host (duplicates
	// included).
	Delivered uint64
	// Lost were dropped at random (LinkConfig.Loss).
	Lost uint64
	// DroppedNth were dropped by LinkConfig.DropNth.
	DroppedNth uint64
	// FaultDrops were dropped by fault rules (Drop, Blackhole).
	FaultDrops uint64
	// QueueDrops were tail-dropped because the queue was full.
	QueueDrops uint64
	// Duplicated counts the extra copies sent (LinkConfig.Duplicate and
	// Duplicate rules).
	Duplicated uint64
	// Lateness is how late packets were written compared with their due
	// time (the accuracy of the emulated delay).
	Lateness Lateness
}

// Lateness summarises how late packets left the forwarder.
type Lateness struct {
	// Samples is the number of packets measured.
	Samples uint64
	// P50, P99 and Max are percentiles of the lateness (resolution 1µs
	// below 10ms, coarser above).
	P50, P99, Max time.Duration
}

// RuleStats counts the packets a fault rule acted on.
type RuleStats struct {
	// Name is the rule's label.
	Name string
	// Dir is the rule's direction.
	Dir Dir
	// Hits counts packets that matched (for Blackhole: packets dropped).
	Hits uint64
}

// histogram records durations with 1µs resolution up to histFine, and
// 100µs resolution up to histCoarse; all memory is allocated up front.
type histogram struct {
	mu     sync.Mutex
	fine   [histFine]uint64
	coarse [histCoarse]uint64
	over   uint64
	n      uint64
	max    time.Duration
}

const (
	histFine   = 10000 // 1µs buckets: 0..10ms
	histCoarse = 10000 // 100µs buckets: 10ms..1s
)

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := int(d / time.Microsecond)
	h.mu.Lock()
	switch {
	case us < histFine:
		h.fine[us]++
	case (us-histFine)/100 < histCoarse:
		h.coarse[(us-histFine)/100]++
	default:
		h.over++
	}
	h.n++
	if d > h.max {
		h.max = d
	}
	h.mu.Unlock()
}

func (h *histogram) summary() Lateness {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := Lateness{Samples: h.n, Max: h.max}
	if h.n == 0 {
		return l
	}
	l.P50 = h.quantile(0.50)
	l.P99 = h.quantile(0.99)
	return l
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.fine {
		if seen += c; seen >= rank {
			return min(time.Duration(i+1)*time.Microsecond, h.max)
		}
	}
	for i, c := range h.coarse {
		if seen += c; seen >= rank {
			return min(time.Duration(histFine+(i+1)*100)*time.Microsecond, h.max)
		}
	}
	return h.max
}
