package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/sysctl"
)

// Exit statuses of `fastopen check` (1 and 2 keep their usual meaning:
// error, bad usage).
const (
	checkClientOff = 9  // client side unavailable, server side fine
	checkServerOff = 10 // server side unavailable, client side fine
	checkBothOff   = 11 // neither side available
)

func init() {
	cli.Register(&cli.Command{
		Name:    "check",
		Summary: "explain what the kernel does with TFO in this network namespace, and what to change",
		Usage: "[--json]\n\nexit status: 0 TFO usable as client and server, 9 client side unavailable,\n" +
			"10 server side unavailable, 11 neither, 1 the check itself failed",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print the report as JSON (sysctl, client, server, advice, paths_avoided, ...)")
			state := fs.String("state", "", "path memory file to report on (default as for `fastopen send`; 'none': the kernel's record only)")
			return func(args []string) error {
				if len(args) > 0 {
					return cli.Usagef("unexpected argument %q", args[0])
				}
				r, err := kernel.Check()
				if err != nil {
					return err
				}
				avoided, err := avoidedPaths(*state)
				if err != nil {
					return err
				}
				if *asJSON {
					out := struct {
						*kernel.Report
						PathsAvoided []fastopen.PathEntry `json:"paths_avoided"`
					}{r, avoided}
					if err := cli.JSON(os.Stdout, out); err != nil {
						return err
					}
				} else {
					printCheck(r)
					printAvoided(avoided)
				}
				switch {
				case !r.Client && !r.Server:
					return &cli.ExitError{Code: checkBothOff}
				case !r.Client:
					return &cli.ExitError{Code: checkClientOff}
				case !r.Server:
					return &cli.ExitError{Code: checkServerOff}
				}
				return nil
			}
		},
	})
}

// avoidedPaths lists the destinations the path memory keeps off TFO now.
func avoidedPaths(flagFile string) ([]fastopen.PathEntry, error) {
	_, es, err := pathView(flagFile)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := []fastopen.PathEntry{}
	for _, e := range es {
		if e.Avoided(now) {
			out = append(out, e)
		}
	}
	return out, nil
}

func printAvoided(es []fastopen.PathEntry) {
	if len(es) == 0 {
		fmt.Println("\npath memory: TFO is not avoided for any destination")
		return
	}
	fmt.Printf("\npath memory: TFO is avoided for %d destination(s) after failures on their path (dials there go plain until then, then try TFO again):\n", len(es))
	now := time.Now()
	rows := [][]string{{"  DESTINATION", "AVOIDED FOR", "BECAUSE", "FAILURES IN A ROW"}}
	for _, e := range es {
		rows = append(rows, []string{"  " + e.Addr.String(), e.AvoidUntil.Sub(now).Round(time.Second).String(), e.Cause.String(), strconv.Itoa(e.Failures)})
	}
	cli.Table(os.Stdout, rows)
	fmt.Println("  ('fastopen cookies paths' shows every destination; 'fastopen cookies forget' clears them)")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printCheck(r *kernel.Report) {
	fmt.Printf("namespace:  %s\n", r.Namespace)
	fmt.Printf("%s = %d = %s\n", sysctl.FastOpen, r.Sysctl, r.Mode)
	rows := [][]string{{"  ", "BIT", "NAME", "MEANING"}}
	for _, b := range r.Bits {
		mark := "[ ]"
		if b.Set {
			mark = "[x]"
		}
		rows = append(rows, []string{"  " + mark, fmt.Sprintf("%#x", int(b.Mask)), b.Name, b.Meaning})
	}
	cli.Table(os.Stdout, rows)
	fmt.Printf("\nclient TFO: %s    server TFO: %s    server key: %s\n", yesNo(r.Client), yesNo(r.Server), r.ServerKey)
	fmt.Printf("kernel:     TCP_FASTOPEN_CONNECT %s, TCP_FASTOPEN %s, TCP_FASTOPEN_KEY %s\n",
		yesNo(r.Support.Connect), yesNo(r.Support.Listener), yesNo(r.Support.KeyOption))
	switch {
	case r.BlackholeTimeoutSec < 0:
		fmt.Printf("blackhole:  %s unreadable\n", sysctl.BlackholeTimeout)
	case r.BlackholeTimeoutSec == 0:
		fmt.Printf("blackhole:  detection off (%s = 0); %d past detections\n", sysctl.BlackholeTimeout, r.BlackholeEvents)
	default:
		state := "client TFO active"
		if r.ClientMaybePaused {
			state = "client TFO may be paused right now"
		}
		fmt.Printf("blackhole:  detection on (%ds, doubling per event); %d detections; %s\n", r.BlackholeTimeoutSec, r.BlackholeEvents, state)
	}
	fmt.Println()
	rows = [][]string{{"COUNTER", "VALUE", "MEANING"}}
	for _, c := range r.Counters {
		rows = append(rows, []string{c.Name, strconv.FormatUint(c.Value, 10), c.Meaning})
	}
	cli.Table(os.Stdout, rows)
	fmt.Println("\nadvice:")
	for _, a := range r.Advice {
		fmt.Printf("  - %s\n", a)
	}
	for _, p := range r.Problems {
		fmt.Printf("  ! could not read: %s\n", p)
	}
}
