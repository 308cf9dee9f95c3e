package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/fohttp"
	"github.com/fastopen/fastopen/internal/cli"
)

// serveHook adds flags to `fastopen serve` and acts on its listener
// (cookie keys, metrics; see serve_ops.go).
type serveHook interface {
	// Configure is called before the listener is created, so that what it
	// sets (a cookie key) is in force from the first SYN.
	Configure(lc *fastopen.ListenConfig) error
	// Listen is called with the listener right after it is created, before
	// the first Accept.
	Listen(ctx context.Context, ln net.Listener, log *slog.Logger) error
	// Accepted is called for every accepted connection with its TFO info.
	Accepted(c net.Conn, info fastopen.Info)
	// Rejected is called for every connection whose SYN data was left
	// unanswered because its handshake never completed (--confirm).
	Rejected(c net.Conn, info fastopen.Info, err error)
}

// serveHooks are registered by other files' init functions.
var serveHooks []func(fs *flag.FlagSet) serveHook

func init() {
	cli.Register(&cli.Command{
		Name:    "serve",
		Summary: "run the TFO echo server (replies to the first read with the same bytes and closes, like the walkthrough's)",
		Usage:   "[--addr 0.0.0.0:8000] [--backlog 5] [--stream] [--confirm] [--plain] [--require] [--max-conns 1024] [--idle-timeout 30s] [--key-file F] [--metrics ADDR] [--log-json] [--http|--tls [--cert F --key F|--cert-out F] [--early wait|reject]]",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			addr := fs.String("addr", "0.0.0.0:8000", "address to listen on (host:port; [::]:8000 for IPv6)")
			backlog := fs.Int("backlog", 5, "TFO queue length: connections with SYN data awaiting the end of their handshake (TCP_FASTOPEN value)")
			stream := fs.Bool("stream", false, "keep echoing until the client closes (RFC 862) instead of replying once and closing")
			plain := fs.Bool("plain", false, "listen without TFO (for comparison)")
			require := fs.Bool("require", false, "fail if TFO cannot be enabled (kernel server bit off)")
			logJSON := fs.Bool("log-json", false, "log one JSON object per connection instead of text")
			confirm := fs.Bool("confirm", false, "guard against replayed SYN data: answer data that came in the SYN only once the client completes the handshake (costs TFO's saving on those requests)")
			maxConns := fs.Int("max-conns", 1024, "most connections served at once; more wait in the kernel's accept queue (keep it below the descriptor limit, ulimit -n)")
			idle := fs.Duration("idle-timeout", 30*time.Second, "close a connection that sends nothing, or does not read its echo, for this long")
			httpMode := fs.Bool("http", false, "serve HTTP instead of echo: safe requests from a SYN are answered at once, unsafe ones follow --early")
			tlsMode := fs.Bool("tls", false, "serve HTTPS (TLS 1.2/1.3) instead of echo, with --cert/--key or a self-signed certificate made at start")
			certFile := fs.String("cert", "", "--tls: PEM certificate (chain) file; with --key")
			keyFile := fs.String("key", "", "--tls: PEM private key file; with --cert")
			certOut := fs.String("cert-out", "", "--tls without --cert: write the self-signed certificate here (PEM), for clients' --ca")
			early := fs.String("early", "wait", "--http/--tls: unsafe requests (POST, PUT, ...) that arrived in SYN data: wait for the handshake, or reject with 425 Too Early")
			var hooks []serveHook
			for _, h := range serveHooks {
				hooks = append(hooks, h(fs))
			}
			return func(args []string) error {
				if len(args) > 0 {
					return cli.Usagef("unexpected argument %q (the address goes in --addr)", args[0])
				}
				if err := checkHostPort(*addr, true); err != nil {
					return cli.Usagef("--addr: %v", err)
				}
				if *backlog <= 0 {
					return cli.Usagef("--backlog must be at least 1, got %d", *backlog)
				}
				if *maxConns < 1 || *maxConns > maxServeConns {
					return cli.Usagef("--max-conns must be between 1 and %d, got %d", maxServeConns, *maxConns)
				}
				if *idle < 100*time.Millisecond || *idle > time.Hour {
					return cli.Usagef("--idle-timeout must be between 100ms and 1h, got %v", *idle)
				}
				policy, err := fohttp.ParseEarlyPolicy(*early)
				if err != nil {
					return cli.Usagef("--early: %v", err)
				}
				switch {
				case *httpMode && *tlsMode:
					return cli.Usagef("--http and --tls: pick one (--tls serves HTTPS)")
				case (*certFile == "") != (*keyFile == ""):
					return cli.Usagef("--cert and --key go together")
				case !*tlsMode && (*certFile != "" || *certOut != ""):
					return cli.Usagef("--cert, --key and --cert-out need --tls")
				case *certFile != "" && *certOut != "":
					return cli.Usagef("--cert-out writes the self-signed certificate; with --cert there is none")
				case (*httpMode || *tlsMode) && (*stream || *confirm):
					return cli.Usagef("--stream and --confirm are for the echo server; with --http/--tls use --early")
				}
				log := cli.Logger(*logJSON)
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				lc := fastopen.ListenConfig{QueueLen: *backlog, Disable: *plain, Require: *require}
				for _, hk := range hooks {
					if err := hk.Configure(&lc); err != nil {
						return err
					}
				}
				ln, err := lc.Listen(ctx, "tcp", *addr)
				if err != nil {
					return listenErr(*addr, err)
				}
				for _, hk := range hooks {
					if err := hk.Listen(ctx, ln, log); err != nil {
						ln.Close()
						return err
					}
				}
				serveMode := mode(*stream)
				switch {
				case *httpMode:
					serveMode = "http"
				case *tlsMode:
					serveMode = "https"
				}
				l := ln.(*fastopen.Listener)
				if ok, why := l.FastOpen(); ok {
					log.Info("listening", "addr", ln.Addr().String(), "tfo", true, "queue", l.QueueLen(), "mode", serveMode, "max_conns", *maxConns, "idle_timeout", idle.String())
				} else {
					log.Info("listening", "addr", ln.Addr().String(), "tfo", false, "mode", serveMode, "max_conns", *maxConns, "idle_timeout", idle.String())
					if why == fastopen.ReasonKernelOff {
						log.Warn("TFO server side is off in this network namespace: data in SYNs will be ignored; " +
							"set bit 0x2 of net.ipv4.tcp_fastopen (`fastopen enable server`, or `sysctl -w net.ipv4.tcp_fastopen=3`)")
					}
				}
				if lim, ok := fdLimit(); ok && uint64(*maxConns)+fdReserve > lim {
					log.Warn("--max-conns is above what the descriptor limit allows: at the limit, accepting fails until connections end",
						"max_conns", *maxConns, "fd_limit", lim, "advice", fmt.Sprintf("lower --max-conns to %d or raise ulimit -n", max(int64(lim)-fdReserve, 1)))
				}
				if *httpMode || *tlsMode {
					hs := &httpServe{tls: *tlsMode, cert: *certFile, key: *keyFile, certOut: *certOut, early: policy, maxConns: *maxConns, idle: *idle}
					if len(hooks) > 0 {
						hs.accepted = func(c net.Conn, inf fastopen.Info) {
							for _, hk := range hooks {
								hk.Accepted(c, inf)
							}
						}
					}
					log.Info("serving HTTP", "early", policy.String())
					err = hs.serve(ctx, ln, log)
					log.Info("stopped")
					return err
				}
				srv := &echo.Server{Stream: *stream, Logger: log, Confirm: *confirm, MaxConns: *maxConns, IdleTimeout: *idle}
				if len(hooks) > 0 {
					srv.Accepted = func(c net.Conn, inf fastopen.Info) {
						for _, hk := range hooks {
							hk.Accepted(c, inf)
						}
					}
					srv.Rejected = func(c net.Conn, inf fastopen.Info, err error) {
						for _, hk := range hooks {
							hk.Rejected(c, inf, err)
						}
					}
				}
				err = srv.Serve(ctx, ln)
				log.Info("stopped")
				return err
			}
		},
	})
}

// fdReserve is the descriptors serve needs besides its connections:
// standard streams, the runtime's poller, listeners, the metrics
// endpoint's connections (metrics.MaxConns), key file reads, logs.
const fdReserve = 64

// maxServeConns bounds --max-conns: a million descriptors is beyond
// most hosts' fs.nr_open.
const maxServeConns = 1 << 20

func mode(stream bool) string {
	if stream {
		return "stream"
	}
	return "once"
}

// checkHostPort validates "host:port" with a numeric port (and, unless
// wildcard is allowed, a non-empty host).
func checkHostPort(addr string, wildcard bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: want host:port, e.g. 127.0.0.1:8000 or [::1]:8000", addr)
	}
	if host == "" && !wildcard {
		return fmt.Errorf("address %q has no host", addr)
	}
	if p, err := net.LookupPort("tcp", port); err != nil || p == 0 && !wildcard {
		return fmt.Errorf("address %q: port %q is not a valid port number", addr, port)
	}
	return nil
}

// listenErr turns common listen failures into advice.
func listenErr(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s is already in use (another server running? stop it or pick another address): %w", addr, err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("no permission to listen on %s (ports below 1024 need root or CAP_NET_BIND_SERVICE): %w", addr, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s is not an address of this host (or network namespace): %w", addr, err)
	case errors.Is(err, fastopen.ErrNotUsed):
		return fmt.Errorf("%w; enable it with `fastopen enable server`", err)
	}
	return err
}
