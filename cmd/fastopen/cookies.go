package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/fastopen/fastopen/cookie"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/kernel"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "cookies",
		Summary: "list or flush the TFO cookies this machine's kernel keeps for servers (tcp_metrics cache)",
		Usage: "[list | flush [DEST] | paths | forget [DEST]] [--json] [--state FILE]\n\n" +
			"  list         show destination, source, cookie (hex), age (default), then the path memory\n" +
			"  flush        forget every destination's cookie and cached metrics (needs root)\n" +
			"  flush DEST   forget one server's (an IP address); its next connection starts cold\n" +
			"  paths        the path memory: where TFO failed, is avoided, and until when (state file\n" +
			"               of `fastopen send`, and the kernel's fo_syn_drops)\n" +
			"  forget       clear the path memory's state file; forget DEST clears one destination",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			state := fs.String("state", "", "path memory file (default as for `fastopen send`)")
			return func(args []string) error {
				sub := "list"
				if len(args) > 0 {
					sub = args[0]
				}
				switch sub {
				case "list":
					if len(args) > 1 {
						return cli.Usagef("cookies list takes no arguments")
					}
					if err := listCookies(*asJSON); err != nil || *asJSON {
						return err
					}
					fmt.Println()
					return listPaths(*state, false)
				case "paths":
					if len(args) > 1 {
						return cli.Usagef("cookies paths takes no arguments")
					}
					return listPaths(*state, *asJSON)
				case "forget", "flush":
					dest, err := destArg(sub, args[1:])
					if err != nil {
						return err
					}
					if sub == "forget" {
						return forgetPaths(*state, dest, *asJSON)
					}
					return flushCookies(dest, *asJSON)
				}
				return cli.Usagef("unknown subcommand %q: want list, flush, paths or forget", sub)
			}
		},
	})
}

// destArg reads the optional destination of `cookies flush|forget`: none
// is the zero Addr (every destination).
func destArg(sub string, args []string) (netip.Addr, error) {
	switch {
	case len(args) > 1:
		return netip.Addr{}, cli.Usagef("cookies %s takes at most one destination", sub)
	case len(args) == 0:
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(args[0])
	if err != nil {
		return netip.Addr{}, cli.Usagef("destination %q is not an IP address (e.g. 192.0.2.7 or 2001:db8::7)", args[0])
	}
	return a, nil
}

func listCookies(asJSON bool) error {
	cs, err := cookie.List()
	if err != nil {
		return err
	}
	if asJSON {
		if cs == nil {
			cs = []cookie.Cookie{}
		}
		return cli.JSON(os.Stdout, cs)
	}
	ns, _ := kernel.CurrentNamespace()
	if len(cs) == 0 {
		fmt.Printf("no TFO cookies cached in %s\n", ns)
		return nil
	}
	fmt.Printf("TFO cookies cached in %s:\n", ns)
	rows := [][]string{{"DESTINATION", "SOURCE", "COOKIE", "AGE", "MSS", "SYN DROPS"}}
	for _, c := range cs {
		src := "-"
		if c.Source.IsValid() {
			src = c.Source.String()
		}
		rows = append(rows, []string{c.Dest.String(), src, c.CookieHex, c.Age.Round(time.Second).String(),
			strconv.Itoa(int(c.MSS)), strconv.Itoa(int(c.SYNDrops))})
	}
	return cli.Table(os.Stdout, rows)
}

func flushCookies(dest netip.Addr, asJSON bool) error {
	err := cookie.Flush(dest)
	what := "all destinations"
	if dest.IsValid() {
		what = dest.String()
	}
	if errors.Is(err, cookie.ErrNoCookie) {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("nothing cached for %s", what)}
	}
	if err != nil {
		return err
	}
	if asJSON {
		return cli.JSON(os.Stdout, map[string]string{"flushed": what})
	}
	fmt.Printf("flushed cached TFO cookies and TCP metrics of %s\n", what)
	return nil
}
