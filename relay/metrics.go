package relay

import "github.com/prometheus/client_golang/prometheus"

// Collector exports a Relay's Stats to Prometheus, read at scrape time:
//
//	fastopen_relay_connections_total{leg="in|out",syn_data="true|false"}
//	fastopen_relay_active_connections
//	fastopen_relay_syn_data_bytes_total{leg="in|out"}
//	fastopen_relay_bytes_total{direction="up|down"}
//	fastopen_relay_errors_total{kind="limit|unconfirmed|read|dial|copy|idle"}
//
// Register it with metrics.NewKernelCollector for the namespace's
// TcpExt TCPFastOpen* counters, as `fastopen relay --metrics` does. It is
// safe for concurrent scrapes.
type Collector struct {
	r *Relay
}

// NewCollector returns a Collector of r's Stats.
func NewCollector(r *Relay) *Collector { return &Collector{r: r} }

var (
	connDesc = prometheus.NewDesc("fastopen_relay_connections_total",
		"Connections relayed, by leg (in: accepted from clients; out: dialed onward) and whether data rode in the SYN (in: arrived in it; out: the far end acknowledged it).",
		[]string{"leg", "syn_data"}, nil)
	activeDesc = prometheus.NewDesc("fastopen_relay_active_connections",
		"Connections being relayed now.", nil, nil)
	synBytesDesc = prometheus.NewDesc("fastopen_relay_syn_data_bytes_total",
		"Bytes carried in SYNs, by leg (in: measured at accept time where possible; out: first flights of the connections whose SYN data the far end acknowledged).",
		[]string{"leg"}, nil)
	bytesDesc = prometheus.NewDesc("fastopen_relay_bytes_total",
		"Bytes relayed, by direction (up: clients to the far end; down: back), counted as each connection's direction ends.",
		[]string{"direction"}, nil)
	errorsDesc = prometheus.NewDesc("fastopen_relay_errors_total",
		"Connections that ended badly, by kind: limit (reset at accept, MaxConns reached), unconfirmed (SYN data of a client that never completed the handshake, not forwarded), read, dial (far end refused, unreachable or timed out), copy (reset mid-stream), idle (closed by the idle timeout).",
		[]string{"kind"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connDesc, activeDesc, synBytesDesc, bytesDesc, errorsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(connDesc, s.InSYNData, "in", "true")
	counter(connDesc, s.Accepted-s.InSYNData, "in", "false")
	counter(connDesc, s.OutSYNData, "out", "true")
	counter(connDesc, s.Dialed-s.OutSYNData, "out", "false")
	ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(s.Active))
	counter(synBytesDesc, s.InSYNBytes, "in")
	counter(synBytesDesc, s.OutSYNBytes, "out")
	counter(bytesDesc, s.BytesUp, "up")
	counter(bytesDesc, s.BytesDown, "down")
	counter(errorsDesc, s.Rejected, "limit")
	counter(errorsDesc, s.Unconfirmed, "unconfirmed")
	counter(errorsDesc, s.ReadErrors, "read")
	counter(errorsDesc, s.DialErrors, "dial")
	counter(errorsDesc, s.CopyErrors, "copy")
	counter(errorsDesc, s.IdleTimeouts, "idle")
}
