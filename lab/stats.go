package lab

import (
	"sync"
	"time"
)

// Stats is a snapshot of the link's counters.
type Stats struct {
	// Up is client → server, Down server → client.
	Up   DirStats `json:"up"`
	Down DirStats `json:"down"`
	// Rules holds one entry per configured fault rule, in order.
	Rules []RuleStats `json:"rules,omitempty"`
	// Seed is the random seed in use (set Config.Seed to it to replay).
	Seed uint64 `json:"seed"`
}

// DirStats counts one direction of the link.
type DirStats struct {
	// Packets and Bytes were read from the sending host.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Delivered packets were written to the receiving host (duplicates
	// included).
	Delivered uint64 `json:"delivered"`
	// Lost were dropped at random (LinkConfig.Loss).
	Lost uint64 `json:"lost"`
	// DroppedNth were dropped by LinkConfig.DropNth.
	DroppedNth uint64 `json:"dropped_nth"`
	// FaultDrops were dropped by fault rules (Drop, Blackhole).
	FaultDrops uint64 `json:"fault_drops"`
	// QueueDrops were tail-dropped because the queue was full.
	QueueDrops uint64 `json:"queue_drops"`
	// Duplicated counts the extra copies sent (LinkConfig.Duplicate and
	// Duplicate rules).
	Duplicated uint64 `json:"duplicated"`
	// Lateness is how late packets were written compared with their due
	// time (the accuracy of the emulated delay).
	Lateness Lateness `json:"lateness"`
}

// Lateness summarises how late packets left the forwarder.
type Lateness struct {
	// Samples is the number of packets measured.
	Samples uint64 `json:"samples"`
	// P50, P99 and Max are percentiles of the lateness (resolution 1µs
	// below 10ms, coarser above).
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// RuleStats counts the packets a fault rule acted on.
type RuleStats struct {
	// Name is the rule's label.
	Name string `json:"name"`
	// Dir is the rule's direction.
	Dir Dir `json:"dir"`
	// Hits counts packets that matched (for Blackhole: packets dropped).
	Hits uint64 `json:"hits"`
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
