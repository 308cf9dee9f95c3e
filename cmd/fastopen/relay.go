package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/metrics"
	"github.com/fastopen/fastopen/relay"
	"github.com/fastopen/fastopen/sysctl"
)

// relaySides parses --tfo and --trusted-link: which sockets a setting
// applies to.
type relaySides struct{ listen, dial bool }

func parseSides(flagName, s string, allowNone bool) (relaySides, error) {
	switch s {
	case "both":
		return relaySides{true, true}, nil
	case "listen":
		return relaySides{listen: true}, nil
	case "dial":
		return relaySides{dial: true}, nil
	case "none", "":
		if allowNone {
			return relaySides{}, nil
		}
	}
	if allowNone {
		return relaySides{}, fmt.Errorf("--%s %q: want listen, dial, both or none", flagName, s)
	}
	return relaySides{}, fmt.Errorf("--%s %q: want listen, dial or both", flagName, s)
}

func init() {
	cli.Register(&cli.Command{
		Name:    "relay",
		Summary: "forward TCP connections with the first request in the SYN of the onward connection: TFO for programs that cannot do it",
		Usage:   "--listen ADDR --to ADDR [--tfo both|listen|dial|none] [--early wait|forward] [--trusted-link listen|dial|both] [--idle 5m] [--max-conns N] [--grace 10s] [--metrics ADDR] [--log-json]",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			listen := fs.String("listen", "", "address to accept connections on (host:port), e.g. 127.0.0.1:8080 for a client relay, :9000 for a server relay")
			to := fs.String("to", "", "address to forward every connection to (host:port): the far relay, or the backend server")
			tfo := fs.String("tfo", "both", "where to use TFO: listen (accept SYN data: a server relay facing the long link), dial (send the first flight in the SYN: a client relay), both, or none")
			early := fs.String("early", "wait", "what a TFO listener does with data that came in a SYN: "+
				"'forward' passes it to --to at once (saves the round trip; a SYN duplicated by the network or replayed by an attacker reaches --to again, "+
				"so use it only for protocols whose first flight is safe to repeat: TLS, SSH, HTTP GET/HEAD, DNS); "+
				"'wait' holds it until the client completes the handshake (safe for every protocol, e.g. HTTP POST, SMTP, plaintext database or cache commands; saves nothing on this leg)")
			trusted := fs.String("trusted-link", "", "TCP_FASTOPEN_NO_COOKIE (Linux 4.15+) on the listen and/or dial socket, so that even the first connection carries data in the SYN; "+
				"ONLY between relays that trust the link: without the cookie a listener accepts SYN data from spoofed addresses (a SYN flood makes it forward requests and send answers for anyone), "+
				"so restrict who can reach it (firewall, private network). Values: listen (server relay), dial (client relay), both")
			firstWait := fs.Duration("first-wait", relay.DefaultFirstFlightWait, "how long to wait for a client's first bytes before dialing without them (protocols where the server speaks first, SMTP, SSH, must not notice)")
			firstSize := fs.Int("first-size", relay.DefaultFirstFlightSize, fmt.Sprintf("most bytes read as the first flight (what the SYN may carry; 1 to %d)", relay.MaxFirstFlightSize))
			defaultIdle := 5 * time.Minute
			if !relay.IdleTimeoutSupported {
				defaultIdle = 0
			}
			idle := fs.Duration("idle", defaultIdle, "close a connection after this long without data in either direction (0: never; Linux only)")
			maxConns := fs.Int("max-conns", 4096, "most connections relayed at once; more are reset on arrival")
			dialTimeout := fs.Duration("dial-timeout", relay.DefaultDialTimeout, "bound on each onward dial, handshake included")
			backlog := fs.Int("backlog", fastopen.DefaultQueueLen, "TFO queue length of the listener (connections with SYN data awaiting the end of their handshake)")
			metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (port 0 picks one and logs it)")
			logJSON := fs.Bool("log-json", false, "log one JSON object per connection instead of text")
			grace := fs.Duration("grace", 10*time.Second, "on SIGINT/SIGTERM, stop accepting and let connections finish for this long, then reset those left (a second signal ends the process at once)")
			return func(args []string) error {
				if len(args) > 0 {
					return cli.Usagef("unexpected argument %q (addresses go in --listen and --to)", args[0])
				}
				if *listen == "" || *to == "" {
					return cli.Usagef("--listen and --to are both required, e.g. --listen 127.0.0.1:8080 --to 192.0.2.1:9000")
				}
				if err := checkHostPort(*listen, true); err != nil {
					return cli.Usagef("--listen: %v", err)
				}
				if err := checkHostPort(*to, false); err != nil {
					return cli.Usagef("--to: %v", err)
				}
				tfoSides, err := parseSides("tfo", *tfo, true)
				if err != nil {
					return cli.Usagef("%v", err)
				}
				earlyMode, err := relay.ParseEarly(*early)
				if err != nil {
					return cli.Usagef("--early: %v", err)
				}
				var noCookie relaySides
				if *trusted != "" {
					if noCookie, err = parseSides("trusted-link", *trusted, false); err != nil {
						return cli.Usagef("%v", err)
					}
					if noCookie.listen && !tfoSides.listen || noCookie.dial && !tfoSides.dial {
						return cli.Usagef("--trusted-link %s needs TFO on that side (--tfo %s is set)", *trusted, *tfo)
					}
				}
				if *firstSize < 1 || *firstSize > relay.MaxFirstFlightSize {
					return cli.Usagef("--first-size %d: want 1 to %d bytes", *firstSize, relay.MaxFirstFlightSize)
				}
				if *firstWait < 0 || *firstWait > time.Second {
					return cli.Usagef("--first-wait %v: want 0 to 1s (every client whose server speaks first waits this long)", *firstWait)
				}
				if *metricsAddr != "" {
					if err := checkHostPort(*metricsAddr, true); err != nil {
						return cli.Usagef("--metrics: %v", err)
					}
				}
				if *idle < 0 || *dialTimeout <= 0 || *maxConns < 1 || *backlog < 1 || *grace < 0 {
					return cli.Usagef("--idle and --grace must be ≥ 0, --dial-timeout > 0, --max-conns and --backlog ≥ 1")
				}
				if *idle > maxRelayWait || *dialTimeout > maxRelayWait || *grace > maxRelayWait {
					return cli.Usagef("--idle %v --dial-timeout %v --grace %v: want at most %v each", *idle, *dialTimeout, *grace, maxRelayWait)
				}
				if *maxConns > maxRelayConns || *backlog > maxRelayConns {
					return cli.Usagef("--max-conns %d --backlog %d: want at most %d each (a relayed connection holds two descriptors and two pipes)", *maxConns, *backlog, maxRelayConns)
				}

				log := cli.Logger(*logJSON)
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()

				lc := &fastopen.ListenConfig{QueueLen: *backlog, Disable: !tfoSides.listen}
				d := &fastopen.Dialer{Disable: !tfoSides.dial}
				if *idle > 0 {
					// The idle timeout ends connections whose peer vanished;
					// TCP keepalives would cost four setsockopt calls per
					// socket for nothing.
					lc.KeepAlive, d.KeepAlive = -1, -1
				}
				if noCookie.listen {
					lc.Control = relay.NoCookie
				}
				if noCookie.dial {
					// Checked now, so that an old kernel stops the relay
					// at start instead of failing every dial.
					if err := relay.CheckNoCookie(); err != nil {
						return fmt.Errorf("--trusted-link: %w", err)
					}
					d.Control = relay.NoCookie
				}
				r := &relay.Relay{
					To: *to, Dialer: d, DialTimeout: *dialTimeout,
					FirstFlightWait: *firstWait, FirstFlightSize: *firstSize,
					Early: earlyMode, IdleTimeout: *idle, MaxConns: *maxConns, Logger: log,
				}
				if *firstWait == 0 {
					r.FirstFlightWait = -1 // the flag's 0 means no wait
				}
				ln, err := lc.Listen(ctx, "tcp", *listen)
				if err != nil {
					if errors.Is(err, errors.ErrUnsupported) {
						return fmt.Errorf("--trusted-link: %w", err)
					}
					return listenErr(*listen, err)
				}
				if err := relayLoop(ctx, ln.Addr(), *to); err != nil {
					ln.Close()
					return err
				}
				if *metricsAddr != "" {
					if err := serveRelayMetrics(ctx, *metricsAddr, r, log); err != nil {
						ln.Close()
						return err
					}
				}
				fl := ln.(*fastopen.Listener)
				listenTFO, why := fl.FastOpen()
				log.Info("relaying", "listen", ln.Addr().String(), "to", *to,
					"tfo_listen", listenTFO, "tfo_dial", tfoSides.dial, "early", earlyMode.String(),
					"trusted_link", *trusted != "", "max_conns", *maxConns, "idle", *idle)
				if tfoSides.listen && why == fastopen.ReasonKernelOff {
					log.Warn("TFO server side is off in this network namespace: data in SYNs will be ignored; " +
						"set bit 0x2 of net.ipv4.tcp_fastopen (`fastopen enable server`)")
				}
				if tfoSides.dial {
					if m, err := sysctl.FastOpenMode(); err == nil && !m.Client() {
						log.Warn("TFO client side is off in this network namespace: first flights will follow the handshake; " +
							"set bit 0x1 of net.ipv4.tcp_fastopen (`fastopen enable client`)")
					}
				}
				stopped := make(chan struct{})
				go func() {
					defer close(stopped)
					<-ctx.Done()
					stop() // a second signal ends the process
					log.Info("stopping: no new connections; waiting for relayed ones", "active", r.Stats().Active, "grace", *grace)
					gctx, cancel := context.WithTimeout(context.Background(), *grace)
					defer cancel()
					if err := r.Shutdown(gctx); err != nil {
						log.Warn("grace period over: reset the connections left")
					}
				}()
				err = r.Serve(ln)
				if errors.Is(err, relay.ErrClosed) {
					<-stopped
				}
				s := r.Stats()
				log.Info("stopped", "accepted", s.Accepted, "in_syn_data", s.InSYNData, "out_syn_data", s.OutSYNData,
					"dial_errors", s.DialErrors, "bytes_up", s.BytesUp, "bytes_down", s.BytesDown)
				if errors.Is(err, relay.ErrClosed) {
					return nil
				}
				return err
			}
		},
	})
}

// serveRelayMetrics serves the relay's counters and the namespace's
// kernel TFO counters at http://addr/metrics until ctx ends, within
// metrics.Serve's bounds.
func serveRelayMetrics(ctx context.Context, addr string, r *relay.Relay, log *slog.Logger) error {
	cf, err := kernel.OpenCounters()
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	reg := metrics.NewRegistry(relay.NewCollector(r), metrics.NewKernelCollector(cf))
	mln, err := net.Listen("tcp", addr)
	if err != nil {
		cf.Close()
		return fmt.Errorf("--metrics: %w", listenErr(addr, err))
	}
	go func() {
		if err := metrics.Serve(ctx, mln, reg); err != nil {
			log.Error("metrics endpoint stopped", "err", err)
		}
		cf.Close()
	}()
	log.Info("metrics", "url", "http://"+mln.Addr().String()+"/metrics")
	return nil
}

// maxRelayConns bounds --max-conns and --backlog.
const maxRelayConns = 1 << 20

// maxRelayWait bounds --idle, --dial-timeout and --grace: a day is beyond
// any use of them, and a typo (5000h for 5000ms) is caught.
const maxRelayWait = 24 * time.Hour

// relayLoop reports a usage error when --to leads back to the relay's own
// listener (same port, and an address the listener answers on), which
// would relay each connection to itself until the descriptors run out.
// A --to whose name does not resolve now is left to the dials.
func relayLoop(ctx context.Context, listen net.Addr, to string) error {
	la, ok := listen.(*net.TCPAddr)
	if !ok {
		return nil
	}
	host, port, err := net.SplitHostPort(to)
	if err != nil {
		return nil
	}
	if p, err := net.LookupPort("tcp", port); err != nil || p != la.Port {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		return nil
	}
	lip, _ := netip.AddrFromSlice(la.IP)
	lip = lip.Unmap()
	var local []netip.Addr
	if lip.IsUnspecified() {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				local = append(local, p.Addr().Unmap())
			}
		}
	}
	for _, ip := range ips {
		ip = ip.Unmap()
		self := ip == lip || ip.IsUnspecified() || lip.IsUnspecified() && (ip.IsLoopback() || slices.Contains(local, ip))
		if self {
			return cli.Usagef("--to %s leads back to this relay's own listener %s: a loop; point --to at the server (or the far relay)", to, listen)
		}
	}
	return nil
}
