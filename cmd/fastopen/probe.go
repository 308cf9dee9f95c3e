package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/accept"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/internal/pathstate"
	"github.com/fastopen/fastopen/probe"
)

// Exit statuses of `fastopen probe` (1 and 2 keep their usual meaning:
// error, bad usage).
const (
	probeServer      = 3 // the server does not offer (usable) TFO
	probePath        = 4 // the path breaks TFO
	probeLocal       = 5 // this machine's setup prevents TFO
	probeUnreachable = 6 // no answer, with or without TFO
)

var probeExit = map[probe.Category]int{
	probe.CategoryWorks:       0,
	probe.CategoryServer:      probeServer,
	probe.CategoryPath:        probePath,
	probe.CategoryLocal:       probeLocal,
	probe.CategoryUnreachable: probeUnreachable,
}

func init() {
	cli.Register(&cli.Command{
		Name:    "probe",
		Summary: "will TFO work to this server over this path, and what does it save? (per address, with evidence)",
		Usage: "HOST:PORT [--as raw|http|tls|dns] [--count N] [--timeout D] [--json] [--trace] [--state FILE|none] [--teach]\n" +
			"       fastopen probe --serve ADDR [--max-concurrent N] [--max-time D]   (Prometheus: /probe?target=HOST:PORT&as=http)\n\n" +
			"exit status: 0 TFO works (every address), 3 the server does not offer usable TFO, 4 the path breaks TFO,\n" +
			"5 local setup (client TFO off, kernel blackhole pause), 6 no answer, 1 the probe failed, 2 bad usage\n\n" +
			"  Each address's verdict is set beside what the path memory of `fastopen send` (--state, and the\n" +
			"  kernel's fo_syn_drops) does for it, and a disagreement is flagged. --teach records the verdicts\n" +
			"  in --state, so that later runs avoid a broken path (or use a healed one) from their first dial.\n" +
			"  With --serve the path memory is the kernel's record only.",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			as := fs.String("as", "raw", "first flight: raw (bytes), http (HEAD / with Host), tls (ClientHello, SNI = host), dns (query for the host's name over TCP)")
			count := fs.Int("count", probe.DefaultCount, fmt.Sprintf("warm TFO connections and plain connections per address (1-%d)", probe.MaxCount))
			timeout := fs.Duration("timeout", probe.DefaultTimeout, "limit for each connection (handshake and first answer)")
			asJSON := fs.Bool("json", false, "print the report as one JSON object (addresses with verdict, evidence, connections, timings; overall)")
			traceIt := fs.Bool("trace", false, "capture the probe's own packets (root / CAP_NET_RAW) to strengthen the evidence")
			serve := fs.String("serve", "", "serve Prometheus probes on this address instead (GET /probe?target=HOST:PORT&as=http)")
			maxConc := fs.Int("max-concurrent", probe.DefaultMaxConcurrent, "with --serve: probes running at once")
			maxTime := fs.Duration("max-time", probe.DefaultMaxProbeTime, "with --serve: limit for one probe")
			state := fs.String("state", "", "path memory file to compare with (default $"+pathstate.EnvFile+", else $XDG_STATE_HOME/fastopen/paths.json); 'none': the kernel's record only")
			teach := fs.Bool("teach", false, "record each address's verdict in the --state file (a failure: later fastopen send runs avoid TFO there at once; works: earlier failures cleared)")
			return func(args []string) error {
				kind, err := probe.ParseKind(*as)
				if err != nil {
					return cli.Usagef("--as: %v", err)
				}
				if *count < 1 || *count > probe.MaxCount {
					return cli.Usagef("--count %d: want 1 to %d", *count, probe.MaxCount)
				}
				if *timeout <= 0 || *timeout > probe.MaxTimeout {
					return cli.Usagef("--timeout %v: want more than 0 and at most %v", *timeout, probe.MaxTimeout)
				}
				p := probe.Prober{As: kind, Count: *count, Timeout: *timeout, Trace: *traceIt}
				if *serve != "" {
					if *teach || cli.IsSet(fs, "state") {
						return cli.Usagef("--teach and --state are for a single probe, not --serve")
					}
					if len(args) > 0 {
						return cli.Usagef("--serve takes no target (targets come with each request)")
					}
					if *maxConc < 1 || *maxConc > 64 || *maxTime <= 0 || *maxTime > 5*time.Minute {
						return cli.Usagef("--max-concurrent %d --max-time %v: want 1-64 and at most 5m", *maxConc, *maxTime)
					}
					if err := checkHostPort(*serve, true); err != nil {
						return cli.Usagef("--serve: %v", err)
					}
					return serveProbes(*serve, probe.NewHandler(p, *maxConc, *maxTime))
				}
				if cli.IsSet(fs, "max-concurrent") || cli.IsSet(fs, "max-time") {
					return cli.Usagef("--max-concurrent and --max-time are for --serve; a single probe is bounded by --count and --timeout")
				}
				if len(args) != 1 {
					return cli.Usagef("want exactly one target (host:port), got %d arguments", len(args))
				}
				if _, _, err := probe.SplitTarget(args[0]); err != nil {
					return cli.Usagef("%v", err)
				}
				stateFile := *state
				if *teach {
					name := statePath(*state)
					if name == "" {
						return cli.Usagef("--teach records the verdicts in a state file: give one with --state FILE (not none)")
					}
					stateFile = name
				}
				p.PathMemory = &fastopen.PathMemory{}
				if _, err := loadPaths(stateFile, p.PathMemory); err != nil {
					return err
				}
				p.Teach = *teach
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if !*asJSON {
					p.Progress = os.Stderr
				}
				r, err := p.Probe(ctx, args[0])
				if err != nil {
					return err
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if *teach {
					if err := pathstate.Save(stateFile, p.PathMemory); err != nil {
						return fmt.Errorf("--teach: the verdicts were not recorded: %w", err)
					}
					if !*asJSON {
						fmt.Fprintf(os.Stderr, "recorded the verdicts in the path memory %s\n", stateFile)
					}
				}
				if *asJSON {
					err = cli.JSON(os.Stdout, r)
				} else {
					err = r.WriteText(os.Stdout)
				}
				if err != nil {
					return err
				}
				if code := probeExit[r.Category]; code != 0 {
					return &cli.ExitError{Code: code}
				}
				return nil
			}
		},
	})
}

// probeServeMaxConns is how many scrapers' connections probe --serve holds
// at once; more wait in the kernel's accept queue.
const probeServeMaxConns = 64

// serveProbes answers /probe on addr until SIGINT or SIGTERM.
func serveProbes(addr string, h *probe.Handler) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.Handle("GET /probe", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return listenErr(addr, err)
	}
	// Probes beyond MaxConcurrent are refused (503) by the handler; the
	// connections themselves are capped too, so that idle or slow
	// scrapers cannot use up the descriptors.
	ln = accept.Limit(ln, probeServeMaxConns)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: h.MaxProbeTime + 5*time.Second, IdleTimeout: 30 * time.Second}
	slog.Info("serving TFO probes", "url", "http://"+ln.Addr().String()+"/probe?target=HOST:PORT&as=http", "max_concurrent", h.MaxConcurrent, "max_time", h.MaxProbeTime)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return ctx.Err()
}
