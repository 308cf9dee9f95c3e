package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDurations parses a comma-separated list of durations ("10ms,50ms").
func ParseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range splitList(s) {
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 || d > MaxRTT {
			return nil, fmt.Errorf("%q is not a positive duration up to %v (write e.g. 10ms,50ms,100ms)", f, MaxRTT)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list (write e.g. 10ms,50ms,100ms)")
	}
	return out, nil
}

// ParseSizes parses a comma-separated list of byte counts; a suffix k, K,
// KB or KiB means 1024 bytes ("6,1400,16KiB").
func ParseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		num, mult := f, 1
		for _, suf := range []string{"KiB", "KB", "kB", "k", "K", "B"} {
			if strings.HasSuffix(f, suf) {
				num = strings.TrimSpace(strings.TrimSuffix(f, suf))
				if suf != "B" {
					mult = 1024
				}
				break
			}
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n*mult > 1<<20 {
			return nil, fmt.Errorf("%q is not a size from 1 byte to 1 MiB (write e.g. 6,1400,16KiB)", f)
		}
		out = append(out, n*mult)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list (write e.g. 6,1400,16KiB)")
	}
	return out, nil
}

// ParseLosses parses a comma-separated list of loss rates, as fractions
// ("0,0.01") or percentages ("0,1%").
func ParseLosses(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		num, div := f, 1.0
		if strings.HasSuffix(f, "%") {
			num, div = strings.TrimSuffix(f, "%"), 100
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		v /= div
		if err != nil || !validLoss(v) {
			return nil, fmt.Errorf("%q is not a loss rate from 0 to below 1 (write e.g. 0,0.01 or 0,1%%)", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list (write e.g. 0,0.01)")
	}
	return out, nil
}

// validLoss reports whether v is a loss probability the bench takes: from
// 0 up to (not including) 1; NaN is not one.
func validLoss(v float64) bool { return v >= 0 && v < 1 }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
