package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fastopen/fastopen/bench"
	"github.com/fastopen/fastopen/internal/cli"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "demo",
		Summary: "replay the walkthrough in a two-host lab: first contact, warm TFO, plain TCP and curl, with annotated handshakes and timings (--https: over HTTPS)",
		Usage:   "[--rtt 100ms] [--https] [--json] [--loopback]",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			rtt := fs.Duration("rtt", bench.DefaultDemoRTT, "round-trip time of the emulated link")
			asJSON := fs.Bool("json", false, "print the result as one JSON object on standard output (progress still goes to standard error)")
			loopback := fs.Bool("loopback", false, "run on loopback in this namespace, without the lab (no root needed; shows the mechanics but no saving)")
			quiet := fs.Bool("quiet", false, "no progress lines on standard error")
			https := fs.Bool("https", false, "replay it over HTTPS: a TLS server on a TFO listener; Go's default ClientHello (too big for the SYN) against fotls.FitSYN's (fits, but no post-quantum key exchange), plain TCP and curl")
			return func(args []string) error {
				if len(args) != 0 {
					return cli.Usagef("demo takes no arguments, got %q", args)
				}
				if *rtt < time.Millisecond || *rtt > bench.MaxRTT {
					return cli.Usagef("--rtt %v: want a round-trip time between 1ms and %v, e.g. --rtt 100ms", *rtt, bench.MaxRTT)
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				cfg := bench.DemoConfig{RTT: *rtt, HTTPS: *https, Loopback: *loopback, Progress: os.Stderr}
				if *quiet {
					cfg.Progress = nil
				}
				res, err := bench.RunDemo(ctx, cfg)
				if errors.Is(err, bench.ErrNeedRoot) {
					return fmt.Errorf("%w\nrun it as root (sudo fastopen demo), or add --loopback to run the same exchanges on loopback here (the mechanics show, the saving does not: loopback has no round trip)", err)
				}
				if res == nil {
					return err
				}
				if *asJSON {
					if jerr := cli.JSON(os.Stdout, res); jerr != nil {
						return jerr
					}
				} else {
					bench.WriteDemo(os.Stdout, res)
				}
				return err
			}
		},
	})
}
