// Command fastopen is the TCP Fast Open toolkit's command line: the echo
// server and client of the classic walkthrough, the emulated-RTT lab,
// packet traces, the demo and benchmark, and kernel operations.
//
// Each subcommand lives in its own file and registers itself with
// internal/cli; this file only dispatches.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fastopen/fastopen/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	prog := filepath.Base(os.Args[0])
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := cli.Lookup(args[1]); ok {
				return exit(prog, c, cli.Run(c, prog, []string{"--help"}))
			}
		}
		usage(prog)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cli.Lookup(args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n\n", prog, args[0])
		usage(prog)
		return 2
	}
	return exit(prog, c, cli.Run(c, prog, args[1:]))
}

func exit(prog string, c *cli.Command, err error) int {
	if err == nil {
		return 0
	}
	var ex *cli.ExitError
	if errors.As(err, &ex) {
		if ex.Err != nil {
			fmt.Fprintf(os.Stderr, "%s %s: %v\n", prog, c.Name, ex.Err)
		}
		return ex.Code
	}
	fmt.Fprintf(os.Stderr, "%s %s: %v\n", prog, c.Name, err)
	if errors.Is(err, cli.ErrUsage) {
		fmt.Fprintf(os.Stderr, "run '%s %s --help' for usage\n", prog, c.Name)
		return 2
	}
	return 1
}

func usage(prog string) {
	fmt.Fprintf(os.Stderr, "usage: %s COMMAND [flags] [args]\n\ncommands:\n", prog)
	for _, c := range cli.Commands() {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(os.Stderr, "\nrun '%s COMMAND --help' for a command's flags\n", prog)
}
