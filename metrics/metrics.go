// Package metrics exposes a TFO server's state to Prometheus: connections
// accepted with and without data in the SYN, bytes that arrived in SYNs,
// SYN data left unanswered by the replay guard, cookie key reloads, and
// the kernel's TcpExt TCPFastOpen* counters of the server's network
// namespace. `fastopen serve --metrics ADDR` serves them.
//
// New creates a Server; the server's code records events with Accepted,
// Unconfirmed and KeyLoad, and Handler serves /metrics. KernelCollector
// alone adds the kernel counters to any registry.
//
// The kernel counters are per network namespace, while Prometheus scrapes
// run in HTTP handler goroutines on arbitrary OS threads. New therefore
// opens /proc/thread-self/net/netstat once, on the calling thread (which
// must be in the server's namespace, like the listener), and every scrape
// re-reads that open file: Linux binds it to the namespace it was opened
// in (see kernel.CounterFile).
package metrics

import (
	"net/http"

	"github.com/fastopen/fastopen/kernel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server holds the metrics of one TFO server: the counters
// fastopen_server_connections_total{syn_data},
// fastopen_server_syn_data_bytes_total, fastopen_key_loads_total{result},
// fastopen_server_syn_data_unconfirmed_total and
// fastopen_kernel_tcpext_total{counter}. Its methods are safe for
// concurrent use.
type Server struct {
	reg      *prometheus.Registry
	accepted *prometheus.CounterVec
	synBytes prometheus.Counter
	keyLoads *prometheus.CounterVec
	replays  prometheus.Counter
	counters *kernel.CounterFile
}

// New creates the metrics of a server whose listener lives in the calling
// thread's network namespace. It fails when the kernel counters cannot be
// opened (/proc/thread-self/net/netstat, Linux only). Close releases them.
func New() (*Server, error) {
	cf, err := kernel.OpenCounters()
	if err != nil {
		return nil, err
	}
	s := &Server{
		reg: prometheus.NewRegistry(),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fastopen_server_connections_total",
			Help: "Connections accepted, by whether their first bytes arrived in the SYN (syn_data=\"true\": TFO worked).",
		}, []string{"syn_data"}),
		synBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fastopen_server_syn_data_bytes_total",
			Help: "Bytes that arrived in SYNs, summed over connections where the amount could be measured exactly at accept time (the kernel had received nothing after the SYN).",
		}),
		keyLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fastopen_key_loads_total",
			Help: "Cookie key file loads, by result (ok, error); after an error the previous key stays in use.",
		}, []string{"result"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fastopen_server_syn_data_unconfirmed_total",
			Help: "Connections whose SYN data was not answered because the client never completed the handshake (serve --confirm): replayed SYNs, or clients that vanished.",
		}),
		counters: cf,
	}
	// Make both series exist from the start, so rate() works from zero.
	s.accepted.WithLabelValues("true")
	s.accepted.WithLabelValues("false")
	s.keyLoads.WithLabelValues("ok")
	s.keyLoads.WithLabelValues("error")
	s.reg.MustRegister(s.accepted, s.synBytes, s.keyLoads, s.replays, NewKernelCollector(cf))
	return s, nil
}

// Accepted records one accepted connection: whether its first bytes came
// in the SYN and, if known (> 0), how many bytes (fastopen.Info's SYNData
// and SYNBytes).
func (s *Server) Accepted(synData bool, synBytes int) {
	if synData {
		s.accepted.WithLabelValues("true").Inc()
		if synBytes > 0 {
			s.synBytes.Add(float64(synBytes))
		}
		return
	}
	s.accepted.WithLabelValues("false").Inc()
}

// Unconfirmed records a connection whose SYN data was not answered because
// its handshake never completed (see fastopen.Handshake).
func (s *Server) Unconfirmed() { s.replays.Inc() }

// KeyLoad records the result of loading the cookie key file: nil counts as
// result="ok", any error as result="error" (key.KeyWatcher.OnResult
// fits).
func (s *Server) KeyLoad(err error) {
	if err != nil {
		s.keyLoads.WithLabelValues("error").Inc()
		return
	}
	s.keyLoads.WithLabelValues("ok").Inc()
}

// Registry is where the metrics are registered; add your own to it.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler serves the metrics in Prometheus' text format (mount it on
// /metrics).
func (s *Server) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Close releases the kernel counter file; scrapes after it report the
// kernel counters as an error.
func (s *Server) Close() error { return s.counters.Close() }

// kernelDesc describes the kernel counters.
var kernelDesc = prometheus.NewDesc("fastopen_kernel_tcpext_total",
	"The kernel's TcpExt TCPFastOpen* counters of the server's network namespace, by counter name (`fastopen stats` explains each).",
	[]string{"counter"}, nil)

// KernelCollector is a Prometheus collector that reads the TFO counters
// of one namespace at scrape time, as fastopen_kernel_tcpext_total with
// the counter's name as label. A failed read is reported to Prometheus as
// an invalid metric. It is safe for concurrent scrapes.
type KernelCollector struct {
	cf *kernel.CounterFile
}

// NewKernelCollector reads counters from cf, which fixes the namespace
// (see kernel.OpenCounters). The caller keeps ownership of cf.
func NewKernelCollector(cf *kernel.CounterFile) *KernelCollector {
	return &KernelCollector{cf: cf}
}

// Describe implements prometheus.Collector.
func (k *KernelCollector) Describe(ch chan<- *prometheus.Desc) { ch <- kernelDesc }

// Collect implements prometheus.Collector.
func (k *KernelCollector) Collect(ch chan<- prometheus.Metric) {
	c, err := k.cf.Read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(kernelDesc, err)
		return
	}
	for _, v := range c.FastOpenList() {
		ch <- prometheus.MustNewConstMetric(kernelDesc, prometheus.CounterValue, float64(v.Value), v.Name)
	}
}
