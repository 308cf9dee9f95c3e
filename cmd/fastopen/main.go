// Command fastopen is the TCP Fast Open toolkit's command line: the echo
// server and client of the classic walkthrough, the emulated-RTT lab,
// packet traces, the demo and benchmark, and kernel operations.
//
// Each subcommand lives in its own file and registers itself with
// internal/cli; this file only dispatches.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fastopen/fastopen/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	prog := filepath.Base(os.Args[0])
	if len(args) == 0 {
		usage(os.Stderr, prog)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		if len(args) > 1 {
			// `fastopen help lab up` is `fastopen lab up --help`.
			c, ok := cli.Lookup(args[1])
			if !ok {
				fmt.Fprintf(os.Stderr, "%s help: unknown command %q\n\n", prog, args[1])
				usage(os.Stderr, prog)
				return 2
			}
			return exit(prog, c, cli.Run(c, prog, append(append([]string{}, args[2:]...), "--help")))
		}
		usage(os.Stdout, prog)
		return 0
	}
	c, ok := cli.Lookup(args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n\n", prog, args[0])
		usage(os.Stderr, prog)
		return 2
	}
	return exit(prog, c, cli.Run(c, prog, args[1:]))
}

// exitInterrupted is the shell's status for a process ended by SIGINT.
const exitInterrupted = 130

func exit(prog string, c *cli.Command, err error) int {
	if err == nil {
		return 0
	}
	var ex *cli.ExitError
	if errors.As(err, &ex) {
		if ex.Err != nil {
			fmt.Fprintf(os.Stderr, "%s %s: %s\n", prog, c.Name, message(c, ex.Err))
		}
		return ex.Code
	}
	if errors.Is(err, context.Canceled) {
		// Commands cancel their context only on SIGINT/SIGTERM; they have
		// cleaned up by the time they return.
		fmt.Fprintf(os.Stderr, "%s %s: interrupted\n", prog, c.Name)
		return exitInterrupted
	}
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", prog, c.Name, message(c, err))
	if errors.Is(err, cli.ErrUsage) {
		fmt.Fprintf(os.Stderr, "run '%s %s --help' for usage\n", prog, c.Name)
		return 2
	}
	return 1
}

// usage lists the commands: on standard output when asked for, on
// standard error after a mistake.
func usage(w io.Writer, prog string) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags] [args]\n\ncommands:\n", prog)
	for _, c := range cli.Commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nrun '%s COMMAND --help' (or '%s help COMMAND') for a command's flags\n", prog, prog)
}

// message is err's text without a leading "NAME: " that would repeat the
// command's name, as in a lab package error shown by `fastopen lab`.
func message(c *cli.Command, err error) string {
	return strings.TrimPrefix(err.Error(), c.Name+": ")
}
