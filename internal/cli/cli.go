// Package cli holds the small pieces every fastopen subcommand shares:
// a registry of commands, flag parsing that accepts flags after positional
// arguments, and JSON/table output helpers.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// Command is one `fastopen NAME` subcommand.
type Command struct {
	// Name is the word after `fastopen`.
	Name string
	// Summary is a one-line description for `fastopen --help`.
	Summary string
	// Usage is the argument synopsis, e.g. "ADDR [flags]".
	Usage string
	// Flags declares the command's flags on fs and returns the function that
	// runs it with the positional arguments left after parsing.
	Setup func(fs *flag.FlagSet) func(args []string) error
}

var commands = map[string]*Command{}

// Register adds a command; it is called from init functions.
func Register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("cli: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// Commands lists the registered commands sorted by name.
func Commands() []*Command {
	var cs []*Command
	for _, c := range commands {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}

// Lookup finds a command by name.
func Lookup(name string) (*Command, bool) {
	c, ok := commands[name]
	return c, ok
}

// ErrUsage marks an error caused by bad command-line input; main prints
// the command's usage after it and exits with status 2.
var ErrUsage = errors.New("usage error")

// Usagef returns an ErrUsage-wrapping error with a specific message.
func Usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// Run parses args for c and runs it. Flags may come before, between or
// after positional arguments; "--" ends flag parsing.
func Run(c *Command, prog string, args []string) error {
	fs := flag.NewFlagSet(prog+" "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	run := c.Setup(fs)
	fs.Usage = func() {} // errors are reported by main, help by Run
	pos, err := Parse(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			PrintUsage(os.Stdout, prog, c, fs)
			return nil
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return run(pos)
}

// Parse parses flags anywhere in args and returns the positional ones.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at the first non-flag or at "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// PrintUsage writes a command's help.
func PrintUsage(w io.Writer, prog string, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s %s\n\n%s\n", prog, c.Name, c.Usage, c.Summary)
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintf(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// JSON writes v as one line of JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table writes rows as aligned columns; the first row is the header.
func Table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// ExitError makes main exit with Code, printing Err if it is not nil. It
// is for commands whose exit status carries meaning (e.g. `check`).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }
