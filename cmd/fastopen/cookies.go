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
		Usage: "[list | flush [DEST]] [--json]\n\n" +
			"  list         show destination, source, cookie (hex), age (default)\n" +
			"  flush        forget every destination's cookie and cached metrics (needs root)\n" +
			"  flush DEST   forget one server's (an IP address); its next connection starts cold",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			asJSON := fs.Bool("json", false, "print JSON")
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
					return listCookies(*asJSON)
				case "flush":
					if len(args) > 2 {
						return cli.Usagef("cookies flush takes at most one destination")
					}
					var dest netip.Addr
					if len(args) == 2 {
						a, err := netip.ParseAddr(args[1])
						if err != nil {
							return cli.Usagef("destination %q is not an IP address (e.g. 192.0.2.7 or 2001:db8::7)", args[1])
						}
						dest = a
					}
					return flushCookies(dest, *asJSON)
				}
				return cli.Usagef("unknown subcommand %q: want list or flush", sub)
			}
		},
	})
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
