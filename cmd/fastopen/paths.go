package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/internal/pathstate"
)

// statePath resolves --state ("" for "none"). Without a flag and without
// a place for the default file it warns and returns "": the run goes on
// with the kernel's record and its own memory only.
func statePath(flagFile string) string {
	switch flagFile {
	case "none":
		return ""
	case "":
		name, err := pathstate.DefaultFile()
		if err != nil {
			fmt.Fprintf(os.Stderr, "warning: %v; the path memory is not kept between runs\n", err)
			return ""
		}
		return name
	}
	return flagFile
}

// pathView is the path memory as the CLI sees it: the state file's
// entries and the kernel's record of SYN-data losses in this namespace.
func pathView(flagFile string) (string, []fastopen.PathEntry, error) {
	name := statePath(flagFile)
	var m fastopen.PathMemory
	if name != "" {
		if err := pathstate.Load(name, &m); err != nil {
			if !errors.Is(err, pathstate.ErrCorrupt) {
				return name, nil, err
			}
			fmt.Fprintf(os.Stderr, "warning: %v; the next `fastopen send` keeps it as %s and writes a new one\n", err, pathstate.AsideName(name))
		}
	}
	if err := m.ReadKernel(); err != nil {
		fmt.Fprintf(os.Stderr, "warning: the kernel's TCP metrics could not be read: %v\n", err)
	}
	return name, m.Entries(), nil
}

// pathState describes an entry in words at time now.
func pathState(e fastopen.PathEntry, now time.Time) string {
	switch {
	case e.Avoided(now):
		return "TFO avoided for " + e.AvoidUntil.Sub(now).Round(time.Second).String()
	case e.Failures > 0:
		return "TFO probed at the next dial"
	}
	return "TFO used"
}

func listPaths(flagFile string, asJSON bool) error {
	name, es, err := pathView(flagFile)
	if err != nil {
		return err
	}
	if asJSON {
		if es == nil {
			es = []fastopen.PathEntry{}
		}
		return cli.JSON(os.Stdout, es)
	}
	where := "the kernel's record only (--state none)"
	if name != "" {
		where = name + " and the kernel's record"
	}
	if len(es) == 0 {
		fmt.Printf("path memory (%s): empty\n", where)
		return nil
	}
	fmt.Printf("path memory (%s):\n", where)
	now := time.Now()
	rows := [][]string{{"DESTINATION", "STATE", "LAST FAILURE", "FAILURES", "SUCCESSES", "KERNEL SYN DROPS", "LAST USED"}}
	for _, e := range es {
		last := "-"
		if !e.LastFailure.IsZero() {
			last = e.Cause.Code() + ", " + now.Sub(e.LastFailure).Round(time.Second).String() + " ago"
		}
		used := "-"
		if !e.LastUsed.IsZero() {
			used = now.Sub(e.LastUsed).Round(time.Second).String() + " ago"
		}
		rows = append(rows, []string{e.Addr.String(), pathState(e, now), last, strconv.Itoa(e.Failures),
			strconv.FormatUint(e.Successes, 10), strconv.Itoa(int(e.KernelSYNDrops)), used})
	}
	return cli.Table(os.Stdout, rows)
}

func forgetPaths(flagFile string, dest netip.Addr, asJSON bool) error {
	name := statePath(flagFile)
	if name == "" {
		return cli.Usagef("--state none: there is no state file to clear")
	}
	found, err := pathstate.Forget(name, func(m *fastopen.PathMemory) { m.Forget(dest) })
	if err != nil {
		return err
	}
	if !found {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("no state file at %s: nothing to forget", name)}
	}
	what := "every destination"
	if dest.IsValid() {
		what = dest.String()
	}
	if asJSON {
		return cli.JSON(os.Stdout, map[string]string{"forgotten": what, "state_file": name})
	}
	fmt.Printf("path memory in %s: forgot %s (the kernel's fo_syn_drops stay until `fastopen cookies flush`)\n", name, what)
	return nil
}
