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
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/fastopen/fastopen/internal/table"
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
	// Subs describes the subcommands of a command that has them (`lab up`,
	// `lab exec`, ...), so that `fastopen lab up --help` shows only what
	// concerns `up`. Optional.
	Subs []Sub
	// Passthrough reports, given the positional arguments seen so far,
	// whether the remaining arguments belong to another program and must
	// be passed on untouched (`lab exec HOST CMD ARGS...`); a "--" right
	// after them is dropped. Optional.
	Passthrough func(pos []string) bool
}

// Sub is one subcommand, for help output.
type Sub struct {
	// Name is the word after the command's name (`up`).
	Name string
	// Usage is the argument synopsis after the subcommand's name.
	Usage string
	// Summary says in one line what the subcommand does.
	Summary string
	// Help is a longer explanation for the subcommand's --help. Optional.
	Help string
	// Flags names the command's flags this subcommand uses.
	Flags []string
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
	restore := explainValues(fs)
	pos, err := parse(fs, args, c.Passthrough)
	restore()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if len(pos) > 0 && len(c.Subs) > 0 {
				if s, ok := c.sub(pos[0]); ok {
					printSubUsage(os.Stdout, prog, c, s, fs)
					return nil
				}
			}
			PrintUsage(os.Stdout, prog, c, fs)
			return nil
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return run(pos)
}

func (c *Command) sub(name string) (Sub, bool) {
	for _, s := range c.Subs {
		if s.Name == name {
			return s, true
		}
	}
	return Sub{}, false
}

// Parse parses flags anywhere in args and returns the positional ones.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parse(fs, args, nil)
	if err != nil {
		return nil, err
	}
	return pos, nil
}

// parse is Parse with an optional passthrough test (see
// Command.Passthrough). On error it also returns the positional arguments
// seen before it, so that help can be given for a subcommand.
func parse(fs *flag.FlagSet, args []string, passthrough func([]string) bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return pos, err
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
		if passthrough != nil && passthrough(pos) {
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			return append(pos, args...), nil
		}
	}
}

// explainedValue replaces the flag package's bare "parse error" for a
// numeric or duration flag with what was expected.
type explainedValue struct {
	flag.Value
	want string
}

func (v explainedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("want %s", v.want)
	}
	return nil
}

// explainValues wraps fs's numeric and duration flags in explainedValue
// for parsing; the returned function puts the original values back (help
// output names flag types by their value types).
func explainValues(fs *flag.FlagSet) (restore func()) {
	orig := map[*flag.Flag]flag.Value{}
	fs.VisitAll(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		var want string
		switch g.Get().(type) {
		case time.Duration:
			want = "a duration with a unit, e.g. 100ms, 1.5s or 2m"
		case int, int64:
			want = "a whole number, e.g. 5"
		case uint, uint64:
			want = "a whole number ≥ 0, e.g. 5"
		case float64:
			want = "a number, e.g. 0.01"
		default:
			return
		}
		orig[f] = f.Value
		f.Value = explainedValue{f.Value, want}
	})
	return func() {
		for f, v := range orig {
			f.Value = v
		}
	}
}

// printSubUsage writes the help of one subcommand with only its flags.
func printSubUsage(w io.Writer, prog string, c *Command, s Sub, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s %s %s %s\n\n%s\n", prog, c.Name, s.Name, s.Usage, s.Summary)
	if s.Help != "" {
		fmt.Fprintf(w, "\n%s\n", s.Help)
	}
	if len(s.Flags) == 0 {
		return
	}
	sub := flag.NewFlagSet(c.Name+" "+s.Name, flag.ContinueOnError)
	for _, name := range s.Flags {
		if f := fs.Lookup(name); f != nil {
			sub.Var(f.Value, f.Name, f.Usage)
			sub.Lookup(f.Name).DefValue = f.DefValue
		}
	}
	fmt.Fprintf(w, "\nflags:\n")
	sub.SetOutput(w)
	sub.PrintDefaults()
}

// PrintUsage writes a command's help.
func PrintUsage(w io.Writer, prog string, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", strings.TrimRight(prog+" "+c.Name+" "+c.Usage, " "), c.Summary)
	if len(c.Subs) > 0 {
		fmt.Fprintf(w, "\nsubcommands (each has --help):\n")
		rows := [][]string{}
		for _, s := range c.Subs {
			rows = append(rows, []string{"  " + s.Name, s.Summary})
		}
		Table(w, rows)
	}
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
func Table(w io.Writer, rows [][]string) error { return table.Write(w, rows) }

// ExitError makes main exit with Code, printing Err if it is not nil. It
// is for commands whose exit status carries meaning (e.g. `check`).
type ExitError struct {
	// Code is the process's exit status.
	Code int
	// Err is printed after the command's name; nil prints nothing.
	Err error
}

// Error returns Err's text, or "exit status N" when Err is nil.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// IsSet reports whether the flag name was given on the command line (as
// opposed to keeping its default), e.g. to refuse two flags that give
// the same thing two ways.
func IsSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// Logger returns the logger a long-running command writes to standard
// error: one text line per event, or one JSON object per event when
// jsonLines (the commands' --log-json).
func Logger(jsonLines bool) *slog.Logger {
	if jsonLines {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
