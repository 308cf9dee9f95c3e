package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fastopen/fastopen/bench"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/lab"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "bench",
		Summary: "measure TFO against plain TCP over emulated links: sweeps of RTT, request size and loss; table, JSON, CSV and charts",
		Usage:   "[--rtt 10ms,50ms,100ms] [--size 6,1400,16KiB] [--loss 0,0.01] [--runs N] [--client lazy,eager,plain,curl,http,http-fitsyn,http-fitsyn-full] [--server echo|nginx|http|https] [--json|--csv] [--out DIR] [--mode latency|rate]",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			rtts := fs.String("rtt", "10ms,50ms,100ms", "round-trip times to sweep, comma-separated")
			sizes := fs.String("size", "6", "request sizes in bytes to sweep, comma-separated (k/KiB = 1024), e.g. 6,512,1400,2048,16KiB")
			losses := fs.String("loss", "0", "packet loss rates to sweep (each direction), as fractions or percentages, e.g. 0,0.01 or 0,1%")
			runs := fs.Int("runs", bench.DefaultRuns, "timed samples per point")
			warmup := fs.Int("warmup", bench.DefaultWarmup, "untimed exchanges per point before the samples (the first fetches the cookie)")
			clients := fs.String("client", "lazy,eager,plain", "clients: lazy (Dialer.DialContext), eager (Dialer.DialData), plain (no TFO), curl (curl with and without --tcp-fastopen), http (Go http.Client on fohttp.Transport, with and without TFO), http-fitsyn (http over TLS with a ClientHello that fits in the SYN, resuming sessions; --server https), http-fitsyn-full (the same, a full TLS handshake every time)")
			server := fs.String("server", bench.ServerEcho, "server: echo (this project's, TFO queue 64), nginx (started with a temporary config, listen ... fastopen=64), http or https (this project's fohttp server; https with a self-signed certificate, clients http and http-fitsyn)")
			asJSON := fs.Bool("json", false, "print the result as one JSON object")
			asCSV := fs.Bool("csv", false, "print the result as CSV, one row per point")
			out := fs.String("out", "", "write charts (SVG and PNG) and the JSON result into this directory")
			loopback := fs.Bool("loopback", false, "run on loopback in this namespace instead of the lab (no RTT: per-connection cost only)")
			mode := fs.String("mode", "latency", "latency: sweep as above; rate: connections per second on loopback, TFO vs plain, client and server pinned to different CPUs")
			quiet := fs.Bool("quiet", false, "no progress bar")
			duration := fs.Duration("duration", 2*time.Second, "rate mode: measuring time per variant")
			return func(args []string) error {
				if len(args) != 0 {
					return cli.Usagef("bench takes no arguments, got %q", args)
				}
				if *asJSON && *asCSV {
					return cli.Usagef("choose one of --json and --csv")
				}
				if *mode != "latency" && *mode != "rate" {
					return cli.Usagef("--mode %q: want latency or rate", *mode)
				}
				// A flag of the other mode would be silently ignored: refuse it.
				var misplaced string
				fs.Visit(func(f *flag.Flag) {
					if _, rateFlag := rateFlags[f.Name]; misplaced == "" && !commonBenchFlags[f.Name] && rateFlag != (*mode == "rate") {
						misplaced = f.Name
					}
				})
				if misplaced != "" {
					return cli.Usagef("--%s does not apply to --mode %s", misplaced, *mode)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if *mode == "rate" {
					return runRate(ctx, *duration, *asJSON, *quiet)
				}
				cfg := bench.Config{Runs: *runs, Warmup: *warmup, Server: *server, Loopback: *loopback, Clients: strings.Split(*clients, ",")}
				var err error
				if cfg.RTTs, err = bench.ParseDurations(*rtts); err != nil {
					return cli.Usagef("--rtt: %v", err)
				}
				if cfg.Sizes, err = bench.ParseSizes(*sizes); err != nil {
					return cli.Usagef("--size: %v", err)
				}
				if cfg.Losses, err = bench.ParseLosses(*losses); err != nil {
					return cli.Usagef("--loss: %v", err)
				}
				if *runs < 1 || *warmup < 1 {
					return cli.Usagef("--runs %d --warmup %d: want at least 1 of each", *runs, *warmup)
				}
				if *out != "" {
					// Fail now, not after a long run whose results would be lost.
					if err := checkOutDir(*out); err != nil {
						return err
					}
				}
				bar := bench.NewBar(os.Stderr)
				if !*quiet {
					cfg.Progress = bar.Update
				}
				res, err := bench.Run(ctx, cfg)
				bar.Finish()
				if errors.Is(err, bench.ErrNeedRoot) {
					return fmt.Errorf("%w\nrun it as root, or add --loopback to measure on loopback here (no RTT, so no saving)", err)
				}
				if errors.Is(err, bench.ErrConfig) {
					// "usage error: " already says what "bad bench configuration: " would.
					return cli.Usagef("%s", strings.TrimPrefix(err.Error(), bench.ErrConfig.Error()+": "))
				}
				if res == nil || err != nil && len(res.Points) == 0 {
					return err // nothing measured: no empty table
				}
				if *out != "" {
					files, cerr := bench.WriteCharts(*out, res)
					if cerr != nil {
						// Still print the results below.
						defer fmt.Fprintf(os.Stderr, "fastopen bench: --out %s: %v\n", *out, cerr)
						if err == nil {
							err = &cli.ExitError{Code: 1}
						}
					} else if !*asJSON && !*asCSV {
						defer fmt.Printf("\nwrote %s\n", strings.Join(files, ", "))
					}
				}
				switch {
				case *asJSON:
					if jerr := cli.JSON(os.Stdout, res); jerr != nil {
						return jerr
					}
				case *asCSV:
					if cerr := bench.WriteCSV(os.Stdout, res); cerr != nil {
						return cerr
					}
				default:
					bench.WriteTable(os.Stdout, res)
				}
				return err
			}
		},
	})
}

// Flags of `fastopen bench` by mode: rateFlags apply to --mode rate only,
// commonBenchFlags to both; every other flag to --mode latency only.
var (
	rateFlags        = map[string]struct{}{"duration": {}}
	commonBenchFlags = map[string]bool{"mode": true, "json": true, "quiet": true}
)

// checkOutDir makes sure dir exists (creating it) and takes files.
func checkOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	f, err := os.CreateTemp(dir, ".fastopen-bench-*")
	if err != nil {
		return fmt.Errorf("--out: cannot write into %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// runRate runs `bench --mode rate`: in a fresh namespace with TFO on when
// root, else in this namespace as it is configured.
func runRate(ctx context.Context, d time.Duration, asJSON, quiet bool) error {
	if d <= 0 {
		return cli.Usagef("--duration %v: want a positive duration such as 2s", d)
	}
	cfg := bench.RateConfig{Duration: d}
	if h, err := lab.NewHost(lab.HostConfig{Name: "rate", FastOpen: int(lab.DefaultFastOpen), FastOpenSet: true}); err == nil {
		defer h.Close()
		cfg.Host = h
	} else if !quiet {
		fmt.Fprintf(os.Stderr, "no namespace of our own (%v): measuring on this namespace's loopback as configured\n", err)
	}
	if !quiet {
		fmt.Fprintln(os.Stderr, "measuring connections per second on loopback, TFO and plain TCP alternating…")
	}
	res, err := bench.RunRate(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		return cli.JSON(os.Stdout, res)
	}
	bench.WriteRate(os.Stdout, res)
	return nil
}
