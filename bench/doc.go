// Package bench replays and measures TCP Fast Open over an emulated link.
//
// RunDemo replays the classic walkthrough on one machine: a two-host lab
// at a chosen round-trip time, the echo server with TFO on one host, and
// from the other the echo client three ways (first contact, warm, plain
// TCP) and curl with and without --tcp-fastopen. Every handshake is
// captured and annotated, and each run is timed and checked for data in
// the SYN.
//
// Run sweeps round-trip times, request sizes and loss rates, with several
// clients (the Dialer lazy and eager, plain TCP, curl) against the echo
// server or nginx, and reports the latency distribution of each point
// and the share of runs whose data really rode in the SYN. WriteTable,
// WriteCSV and WriteCharts present the results; RunRate measures
// connections per second on loopback.
//
// The two-host lab needs root / CAP_NET_ADMIN (errors then wrap
// ErrNeedRoot); DemoConfig.Loopback and Config.Loopback run without it.
// The JSON forms of DemoResult, Result and RateResult are documented on
// the types and in SCHEMA.md.
package bench
