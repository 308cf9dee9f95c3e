package bench

import (
	"math"
	"slices"
)

// quantile returns the q-quantile (0..1) of sorted samples, interpolating
// linearly between neighbours.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	f := pos - float64(lo)
	return sorted[lo]*(1-f) + sorted[hi]*f
}

// summarize fills the statistics from SamplesMS; SYNDataRatio holds the
// count of samples with SYN data on entry.
func (p *Point) summarize() {
	p.Runs = len(p.SamplesMS)
	if p.Runs == 0 {
		p.SYNDataRatio, p.PartialSYNRatio = 0, 0
		return
	}
	s := slices.Clone(p.SamplesMS)
	slices.Sort(s)
	p.MedianMS = round3(quantile(s, 0.5))
	p.P10MS = round3(quantile(s, 0.1))
	p.P90MS = round3(quantile(s, 0.9))
	p.MinMS, p.MaxMS = round3(s[0]), round3(s[len(s)-1])
	var sum float64
	for _, v := range s {
		sum += v
	}
	p.MeanMS = round3(sum / float64(len(s)))
	if p.RTTMS > 0 {
		p.MedianRTTs = round3(p.MedianMS / p.RTTMS)
	}
	p.SYNDataRatio = round3(p.SYNDataRatio / float64(p.Runs))
	p.PartialSYNRatio = round3(p.PartialSYNRatio / float64(p.Runs))
	for i, v := range p.SamplesMS {
		p.SamplesMS[i] = round3(v)
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// computeSavings compares every TFO point with the plain point of the
// same RTT, size, loss and server: plain for the Dialer, curl without
// --tcp-fastopen for curl.
func computeSavings(pts []Point) {
	for i := range pts {
		p := &pts[i]
		if !p.TFO || p.Runs == 0 {
			continue
		}
		base := ClientPlain
		switch p.Client {
		case ClientCurl:
			base = ClientCurl
		case ClientHTTP, ClientHTTPFit, ClientHTTPFitFull:
			base = ClientHTTP
		}
		for _, b := range pts {
			if b.TFO || b.Client != base || b.Runs == 0 || b.RTTMS != p.RTTMS || b.Size != p.Size || b.Loss != p.Loss || b.Server != p.Server {
				continue
			}
			p.Baseline = base
			p.SavingMS = round3(b.MedianMS - p.MedianMS)
			if p.RTTMS > 0 {
				p.SavingRTTs = round3(p.SavingMS / p.RTTMS)
			}
		}
	}
}
