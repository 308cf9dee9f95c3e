package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/kernel"
	"github.com/fastopen/fastopen/sysctl"
)

func init() {
	for _, on := range []bool{true, false} {
		name, verb := "enable", "turn TFO on"
		if !on {
			name, verb = "disable", "turn TFO off"
		}
		cli.Register(&cli.Command{
			Name:    name,
			Summary: verb + " (net.ipv4.tcp_fastopen) for the client side, the server side or both, in this network namespace",
			Usage:   "[client|server|both] [--persist] [--json]",
			Setup: func(fs *flag.FlagSet) func([]string) error {
				persist := fs.Bool("persist", false, "also write "+sysctl.PersistPath+" so the setting survives a reboot (host namespace)")
				persistFile := fs.String("persist-file", sysctl.PersistPath, "file written by --persist")
				asJSON := fs.Bool("json", false, "print the change as JSON")
				return func(args []string) error {
					return runEnable(on, args, *persist, *persistFile, *asJSON)
				}
			},
		})
	}
}

func runEnable(on bool, args []string, persist bool, persistFile string, asJSON bool) error {
	if len(args) > 1 {
		return cli.Usagef("one role at most (client, server or both), got %d arguments", len(args))
	}
	role := sysctl.RoleBoth
	if len(args) == 1 {
		r, err := sysctl.ParseRole(args[0])
		if err != nil {
			return cli.Usagef("%v", err)
		}
		role = r
	}
	c, err := kernel.ChangeRole(role, on)
	if err != nil {
		if errors.Is(err, sysctl.ErrPrivilege) {
			return fmt.Errorf("%w; nothing was changed", err)
		}
		return err
	}
	var perr error
	if persist {
		if perr = sysctl.PersistFastOpenMode(persistFile, c.After); perr != nil {
			// Say what the running setting is: the change above stands.
			state := fmt.Sprintf("the running setting was changed to %s", c.After)
			if c.Before == c.After {
				state = fmt.Sprintf("the running setting is %s, unchanged", c.After)
			}
			perr = fmt.Errorf("%w (%s)", perr, state)
		}
	}
	if asJSON {
		if err := cli.JSON(os.Stdout, struct {
			kernel.Change
			Persisted string `json:"persisted,omitempty"`
		}{c, map[bool]string{true: persistFile}[persist && perr == nil]}); err != nil {
			return err
		}
		return perr
	}
	if c.Before == c.After {
		fmt.Printf("%s already %s in %s: nothing to change\n", sysctl.FastOpen, c.After, c.Namespace)
	} else {
		fmt.Printf("%s: %s -> %s in %s\n", sysctl.FastOpen, c.Before, c.After, c.Namespace)
	}
	if persist && perr == nil {
		fmt.Printf("wrote %s (applied at boot", persistFile)
		switch {
		case c.Namespace.HostUnknown:
			fmt.Print(", to the host's namespace")
		case !c.Namespace.Host:
			fmt.Print(", to the host's namespace, not this one")
		}
		fmt.Println(")")
	}
	return perr
}
