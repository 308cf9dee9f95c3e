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
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/fastopen/fastopen/internal/accept"
	"github.com/fastopen/fastopen/kernel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Bounds of the metrics endpoint (Serve). A scrape is one small request
// and a response of a few kilobytes; these let Prometheus (which scrapes
// every 15-60s and reconnects at no cost) work while idle or slow
// connections cannot pile up and take the descriptors the server needs.
const (
	// MaxConns is the most connections served at once; more wait in the
	// kernel's accept queue, holding no descriptor of the process.
	MaxConns = 16
	// ReadHeaderTimeout bounds the wait for a request's headers.
	ReadHeaderTimeout = 5 * time.Second
	// WriteTimeout bounds reading the request and writing the response.
	WriteTimeout = 15 * time.Second
	// IdleTimeout closes a keep-alive connection with no new request.
	IdleTimeout = 10 * time.Second
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
	s.reg = NewRegistry(s.accepted, s.synBytes, s.keyLoads, s.replays, NewKernelCollector(cf))
	return s, nil
}

// NewRegistry returns a registry of cs and of the Go runtime's and the
// process's own metrics (go_*, process_*: goroutines, memory,
// descriptors), as Prometheus users expect from a Go server.
func NewRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Serve serves Handler at /metrics on ln until ctx ends, as the
// package's Serve does.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return Serve(ctx, ln, s.reg)
}

// Serve serves the metrics gathered from g at /metrics on ln until ctx
// ends, within the bounds above (MaxConns, ReadHeaderTimeout,
// WriteTimeout, IdleTimeout), then closes ln and every connection. It
// returns nil when ctx ended, or the error that stopped serving.
func Serve(ctx context.Context, ln net.Listener, g prometheus.Gatherer) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", handler(g))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       WriteTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    8 << 10,
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve(accept.Limit(ln, MaxConns))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
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
func (s *Server) Handler() http.Handler { return handler(s.reg) }

// handler serves g's metrics; a collector's error (such as the kernel
// counters') leaves out that metric, not the whole scrape.
func handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
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
