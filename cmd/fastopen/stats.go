package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/kernel"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "stats",
		Summary: "show the kernel's TcpExt TCPFastOpen* counters with their meanings (per-interval deltas with --watch)",
		Usage:   "[--watch 1s] [--json]",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			watch := fs.Duration("watch", 0, "print the counters and their change every interval until interrupted (e.g. 1s)")
			asJSON := fs.Bool("json", false, "one JSON object per sample")
			return func(args []string) error {
				if len(args) > 0 {
					return cli.Usagef("unexpected argument %q", args[0])
				}
				if *watch < 0 || *watch > 0 && *watch < 10*time.Millisecond {
					return cli.Usagef("--watch %v: use an interval of at least 10ms", *watch)
				}
				return runStats(*watch, *asJSON)
			}
		},
	})
}

// statsSample is one --json line of `fastopen stats`.
type statsSample struct {
	Time     time.Time             `json:"time"`
	Counters []kernel.CounterValue `json:"counters"`
	// Delta is the change since the previous sample (--watch only).
	Delta map[string]uint64 `json:"delta,omitempty"`
}

func runStats(watch time.Duration, asJSON bool) error {
	prev, err := kernel.ReadCounters()
	if err != nil {
		return err
	}
	ns, _ := kernel.CurrentNamespace()
	if watch == 0 {
		if asJSON {
			return cli.JSON(os.Stdout, statsSample{Time: time.Now(), Counters: prev.FastOpenList()})
		}
		fmt.Printf("TFO counters of %s:\n", ns)
		rows := [][]string{{"COUNTER", "VALUE", "MEANING"}}
		for _, c := range prev.FastOpenList() {
			rows = append(rows, []string{c.Name, strconv.FormatUint(c.Value, 10), c.Meaning})
		}
		return cli.Table(os.Stdout, rows)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !asJSON {
		fmt.Printf("TFO counters of %s, every %v (Ctrl-C stops):\n", ns, watch)
	}
	t := time.NewTicker(watch)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			cur, err := kernel.ReadCounters()
			if err != nil {
				return err
			}
			d := cur.Sub(prev).FastOpen()
			if asJSON {
				if err := cli.JSON(os.Stdout, statsSample{Time: now, Counters: cur.FastOpenList(), Delta: d}); err != nil {
					return err
				}
			} else {
				fmt.Printf("\n%s\n", now.Format("15:04:05"))
				rows := [][]string{{"COUNTER", "TOTAL", "DELTA", "MEANING"}}
				for _, c := range cur.FastOpenList() {
					rows = append(rows, []string{c.Name, strconv.FormatUint(c.Value, 10), "+" + strconv.FormatUint(d[c.Name], 10), c.Meaning})
				}
				cli.Table(os.Stdout, rows)
			}
			prev = cur
		}
	}
}
