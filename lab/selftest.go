package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// SelfTestConfig sizes the lab's self-measurement; zero fields take the
// defaults of the project's targets.
type SelfTestConfig struct {
	// RTT of the connect-time measurement (default 100ms).
	RTT time.Duration
	// Connects is the number of connections timed (default 50).
	Connects int
	// PPS is the packet rate per direction of the lateness measurement
	// (default 10000).
	PPS int
	// LoadTime is how long the lateness measurement runs (default 2s).
	LoadTime time.Duration
	// BulkTime is how long each throughput measurement runs (default 2s).
	BulkTime time.Duration
}

// OK reports whether every target was met.
func (r *SelfTestResult) OK() bool {
	return r.ConnectMedianOK && r.ConnectP99OK && r.LatenessOK && r.BulkOK
}

// SelfTestResult holds the measured figures and whether each meets its
// target.
type SelfTestResult struct {
	// RTT is the configured round-trip time of the connect measurement.
	RTT time.Duration `json:"rtt_ns"`
	// Connects is the number of connections timed.
	Connects int `json:"connects"`
	// ConnectMedian and ConnectP99 are percentiles of the connect times.
	ConnectMedian time.Duration `json:"connect_median_ns"`
	ConnectP99    time.Duration `json:"connect_p99_ns"`
	// ConnectMedianOK: median within 0.5ms of RTT; ConnectP99OK: p99
	// within 1.5ms.
	ConnectMedianOK bool `json:"connect_median_ok"`
	ConnectP99OK    bool `json:"connect_p99_ok"`

	// PPS is the offered packet rate per direction.
	PPS int `json:"pps"`
	// Up and Down are the forwarder's lateness under that load.
	Up   Lateness `json:"lateness_up"`
	Down Lateness `json:"lateness_down"`
	// LatenessOK: p99 below 0.2ms in both directions.
	LatenessOK bool `json:"lateness_ok"`

	// BulkMbps is the TCP throughput across a zero-delay link with the
	// largest MTU; BulkMbps1500 with a 1500-byte MTU.
	BulkMbps     float64 `json:"bulk_mbps"`
	BulkMbps1500 float64 `json:"bulk_mbps_mtu1500"`
	// BulkOK: BulkMbps ≥ 500.
	BulkOK bool `json:"bulk_ok"`
}

// Targets SelfTest checks the lab against.
const (
	// TargetConnectMedian is how far the median connect time may be from
	// the configured RTT.
	TargetConnectMedian = 500 * time.Microsecond
	// TargetConnectP99 is how far the 99th percentile connect time may be
	// from the configured RTT.
	TargetConnectP99 = 1500 * time.Microsecond
	// TargetLatenessP99 bounds the 99th percentile of how late the
	// forwarder delivers packets, in each direction, under load.
	TargetLatenessP99 = 200 * time.Microsecond
	// TargetBulkMbps is the least bulk TCP throughput, in Mbit/s, across a
	// zero-delay link with the largest MTU.
	TargetBulkMbps = 500
)

// SelfTest measures the lab against its targets: connect time at RTT,
// forwarder lateness under load, bulk throughput. It builds temporary
// labs, so it needs root / CAP_NET_ADMIN (errors then wrap ErrPrivilege),
// and takes about Connects round trips plus LoadTime and twice BulkTime. progress, if
// not nil, receives a line per step. A missed target is not an error: see
// SelfTestResult.OK. Errors name the step that failed.
func SelfTest(ctx context.Context, cfg SelfTestConfig, progress func(string)) (*SelfTestResult, error) {
	if cfg.RTT == 0 {
		cfg.RTT = 100 * time.Millisecond
	}
	if cfg.Connects == 0 {
		cfg.Connects = 50
	}
	if cfg.PPS == 0 {
		cfg.PPS = 10000
	}
	if cfg.LoadTime == 0 {
		cfg.LoadTime = 2 * time.Second
	}
	if cfg.BulkTime == 0 {
		cfg.BulkTime = 2 * time.Second
	}
	if progress == nil {
		progress = func(string) {}
	}
	r := &SelfTestResult{RTT: cfg.RTT, Connects: cfg.Connects, PPS: cfg.PPS}

	progress(fmt.Sprintf("timing %d connects at RTT %v", cfg.Connects, cfg.RTT))
	times, err := measureConnects(ctx, cfg.RTT, cfg.Connects)
	if err != nil {
		return nil, &stepError{"connect time", err}
	}
	slices.Sort(times)
	r.ConnectMedian = times[len(times)/2]
	r.ConnectP99 = times[min(len(times)-1, len(times)*99/100)]
	r.ConnectMedianOK = absDur(r.ConnectMedian-cfg.RTT) <= TargetConnectMedian
	r.ConnectP99OK = absDur(r.ConnectP99-cfg.RTT) <= TargetConnectP99

	progress(fmt.Sprintf("offering %d packets/s per direction for %v", cfg.PPS, cfg.LoadTime))
	if r.Up, r.Down, err = measureLateness(ctx, cfg.PPS, cfg.LoadTime); err != nil {
		return nil, &stepError{"lateness", err}
	}
	r.LatenessOK = r.Up.P99 < TargetLatenessP99 && r.Down.P99 < TargetLatenessP99

	progress(fmt.Sprintf("bulk TCP for %v, MTU %d", cfg.BulkTime, MaxMTU))
	if r.BulkMbps, err = measureBulk(ctx, MaxMTU, cfg.BulkTime); err != nil {
		return nil, &stepError{"bulk throughput", err}
	}
	r.BulkOK = r.BulkMbps >= TargetBulkMbps
	progress(fmt.Sprintf("bulk TCP for %v, MTU 1500", cfg.BulkTime))
	if r.BulkMbps1500, err = measureBulk(ctx, 1500, cfg.BulkTime); err != nil {
		return nil, &stepError{"bulk throughput", err}
	}
	return r, nil
}

// stepError names the step of SelfTest that failed. Errors from building
// a lab already start with "lab: "; the step goes after that prefix, so
// that the message names the package once.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string {
	return "lab: selftest: " + e.step + ": " + strings.TrimPrefix(e.err.Error(), "lab: ")
}

func (e *stepError) Unwrap() error { return e.err }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// measureConnects times n TCP connects across a lab with the given RTT.
func measureConnects(ctx context.Context, rtt time.Duration, n int) ([]time.Duration, error) {
	l, err := New(Config{RTT: rtt})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	var ln net.Listener
	if err := l.Server.Run(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(l.ServerAddr(false), 7100).String())
		return err
	}); err != nil {
		return nil, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var times []time.Duration
	d := net.Dialer{Timeout: 10*rtt + 3*time.Second}
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := l.Client.Run(func() error {
			start := time.Now()
			c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			if err != nil {
				return err
			}
			times = append(times, time.Since(start))
			return c.Close()
		})
		if err != nil {
			return nil, err
		}
	}
	return times, nil
}

// measureLateness offers pps UDP packets per second in each direction
// across a 10ms link and returns the forwarder's lateness.
func measureLateness(ctx context.Context, pps int, dur time.Duration) (up, down Lateness, err error) {
	return measureLatenessWith(ctx, Config{RTT: 20 * time.Millisecond}, pps, dur)
}

func measureLatenessWith(ctx context.Context, cfg Config, pps int, dur time.Duration) (up, down Lateness, err error) {
	l, err := New(cfg)
	if err != nil {
		return up, down, err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, h := range []struct {
		from, to *Host
		dst      netip.Addr
	}{{l.Client, l.Server, l.ServerAddr(false)}, {l.Server, l.Client, l.ClientAddr(false)}} {
		var recv, send *net.UDPConn
		if err := h.to.Run(func() (err error) {
			recv, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.dst, 7101)))
			return err
		}); err != nil {
			return up, down, err
		}
		defer recv.Close()
		if err := h.from.Run(func() (err error) {
			send, err = net.DialUDP("udp", nil, recv.LocalAddr().(*net.UDPAddr))
			return err
		}); err != nil {
			return up, down, err
		}
		defer send.Close()
		wg.Add(2)
		go func() { defer wg.Done(); io.Copy(io.Discard, recv) }()
		go func() { defer wg.Done(); errs <- pace(ctx, send, pps); recv.Close() }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return up, down, err
		}
	}
	s := l.Stats()
	if s.Up.Delivered == 0 || s.Down.Delivered == 0 {
		return up, down, errors.New("no packets crossed the link")
	}
	return s.Up.Lateness, s.Down.Lateness, nil
}

// pace sends 100-byte datagrams at pps until ctx ends, keeping the
// average rate exact by sending what the clock says is owed.
func pace(ctx context.Context, c *net.UDPConn, pps int) error {
	buf := make([]byte, 100)
	start := time.Now()
	sent := 0
	tick := time.NewTicker(200 * time.Microsecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		owed := int(time.Since(start).Seconds()*float64(pps)) - sent
		for range owed {
			binary.BigEndian.PutUint32(buf, uint32(sent))
			if _, err := c.Write(buf); err != nil {
				return err
			}
			sent++
		}
	}
}

// measureBulk sends TCP data for dur across a zero-delay link with the
// given MTU and returns the goodput in Mbit/s.
func measureBulk(ctx context.Context, mtu int, dur time.Duration) (float64, error) {
	l, err := New(Config{MTU: mtu})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	var ln net.Listener
	if err := l.Server.Run(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(l.ServerAddr(false), 7102).String())
		return err
	}); err != nil {
		return 0, err
	}
	defer ln.Close()
	type result struct {
		n   int64
		d   time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		start := time.Now()
		n, err := io.Copy(io.Discard, c)
		done <- result{n, time.Since(start), err}
	}()
	var c net.Conn
	if err := l.Client.Run(func() (err error) {
		c, err = net.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		return 0, err
	}
	buf := make([]byte, 256<<10)
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return 0, err
		}
	}
	c.Close()
	r := <-done
	if r.err != nil {
		return 0, r.err
	}
	return float64(r.n) * 8 / r.d.Seconds() / 1e6, nil
}
