package probe

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Bounds of a Handler unless configured.
const (
	// DefaultMaxConcurrent is how many probes a Handler runs at once.
	DefaultMaxConcurrent = 4
	// DefaultMaxProbeTime bounds one probe request as a whole.
	DefaultMaxProbeTime = 30 * time.Second
)

// Handler answers Prometheus scrapes in the shape of the blackbox
// exporter: GET /probe?target=HOST:PORT[&as=raw|http|tls|dns][&count=N]
// [&timeout=D] probes the target and returns its verdict, saving and
// timings as metrics. It is bounded: at most MaxConcurrent probes run at
// once (more get 503), a probe lasts at most MaxProbeTime or the scrape
// timeout Prometheus sends (X-Prometheus-Scrape-Timeout-Seconds), count
// at most MaxCount, and targets must be HOST:PORT (SplitTarget).
type Handler struct {
	// Prober is the template of each probe (its As, Count and Timeout are
	// the defaults of the query's parameters).
	Prober Prober
	// MaxConcurrent bounds the probes running at once
	// (DefaultMaxConcurrent if zero).
	MaxConcurrent int
	// MaxProbeTime bounds one probe (DefaultMaxProbeTime if zero).
	MaxProbeTime time.Duration

	once sync.Once
	sem  chan struct{}
}

// NewHandler returns a Handler with the given template and bounds (zero:
// defaults).
func NewHandler(p Prober, maxConcurrent int, maxProbeTime time.Duration) *Handler {
	h := &Handler{Prober: p, MaxConcurrent: maxConcurrent, MaxProbeTime: maxProbeTime}
	h.once.Do(h.init)
	return h
}

// init puts in the defaults of the bounds left zero and makes the
// semaphore; once, before the first probe.
func (h *Handler) init() {
	if h.MaxConcurrent <= 0 {
		h.MaxConcurrent = DefaultMaxConcurrent
	}
	if h.MaxProbeTime <= 0 {
		h.MaxProbeTime = DefaultMaxProbeTime
	}
	h.sem = make(chan struct{}, h.MaxConcurrent)
}

// ServeHTTP runs one probe and writes its metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(h.init)
	q := r.URL.Query()
	for _, k := range [...]string{"target", "as", "count", "timeout"} {
		if n := len(q[k]); n > 1 {
			http.Error(w, fmt.Sprintf("%s given %d times: give it once", k, n), http.StatusBadRequest)
			return
		}
	}
	p := h.Prober
	p.Progress = nil
	target := q.Get("target")
	if _, _, err := SplitTarget(target); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s := q.Get("as"); s != "" {
		k, err := ParseKind(s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.As = k
	}
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxCount {
			http.Error(w, fmt.Sprintf("count %q: want a number from 1 to %d", s, MaxCount), http.StatusBadRequest)
			return
		}
		p.Count = n
	}
	limit := h.MaxProbeTime
	if s := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
			// Leave half a second to answer, as the blackbox exporter does.
			limit = min(limit, time.Duration((f-0.5)*float64(time.Second)))
		}
	}
	if s := q.Get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > limit {
			http.Error(w, fmt.Sprintf("timeout %q: want a duration from 1ms to %v", s, limit), http.StatusBadRequest)
			return
		}
		p.Timeout = d
	}
	if limit <= 0 {
		http.Error(w, "scrape timeout too short for a probe", http.StatusBadRequest)
		return
	}
	p.Timeout = min(p.timeout(), limit)
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		http.Error(w, fmt.Sprintf("%d probes already running; try again later", h.MaxConcurrent), http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), limit)
	defer cancel()
	reg := prometheus.NewRegistry()
	success := gauge(reg, "fastopen_probe_success", "1 if TCP Fast Open works to every address of the target, else 0")
	duration := gauge(reg, "fastopen_probe_duration_seconds", "how long the probe took")
	rep, err := p.Probe(ctx, target)
	if err != nil {
		gauge(reg, "fastopen_probe_error", "1 if the target could not be probed at all (see the log or run `fastopen probe`)").Set(1)
	} else {
		verdict := gaugeVec(reg, "fastopen_probe_verdict", "the verdict for each address (value 1)", "address", "verdict", "category")
		overall := gaugeVec(reg, "fastopen_probe_overall", "the overall verdict for the target (value 1)", "verdict", "category")
		saving := gaugeVec(reg, "fastopen_probe_saving_seconds", "median plain minus median warm TFO time to the first answer byte", "address")
		savingRTT := gaugeVec(reg, "fastopen_probe_saving_rtts", "the saving in round trips", "address")
		timing := gaugeVec(reg, "fastopen_probe_first_byte_seconds", "median time to the first answer byte, by connection kind (cold, warm, plain)", "address", "kind")
		rtt := gaugeVec(reg, "fastopen_probe_rtt_seconds", "shortest plain handshake to the address", "address")
		drops := gaugeVec(reg, "fastopen_probe_syn_drops", "the kernel's fo_syn_drops for the address after the probe", "address")
		memory := gaugeVec(reg, "fastopen_probe_path_memory", "what the path memory does for the address (state: unknown, tfo, avoided, retry) and whether that matches the verdict (match: agrees, disagrees, not_comparable); value 1", "address", "state", "match")
		for _, a := range rep.Addresses {
			addr := a.Address.String()
			verdict.WithLabelValues(addr, string(a.Verdict), string(a.Category)).Set(1)
			saving.WithLabelValues(addr).Set(a.Saving.Seconds())
			savingRTT.WithLabelValues(addr).Set(a.SavingRTTs)
			for kind, d := range map[string]time.Duration{"cold": a.Cold, "warm": a.Warm, "plain": a.Plain} {
				if d > 0 {
					timing.WithLabelValues(addr, kind).Set(d.Seconds())
				}
			}
			rtt.WithLabelValues(addr).Set(a.RTT.Seconds())
			drops.WithLabelValues(addr).Set(float64(a.SYNDrops))
			if pv := a.Path; pv != nil {
				memory.WithLabelValues(addr, pv.State, pv.Match).Set(1)
			}
		}
		overall.WithLabelValues(string(rep.Overall), string(rep.Category)).Set(1)
		if rep.Overall == Works {
			success.Set(1)
		}
		duration.Set(rep.Duration.Seconds())
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func gauge(reg *prometheus.Registry, name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	reg.MustRegister(g)
	return g
}

func gaugeVec(reg *prometheus.Registry, name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	reg.MustRegister(g)
	return g
}
