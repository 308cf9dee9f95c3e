package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/fastopen/fastopen/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	cli.Register(&cli.Command{
		Name:    "version",
		Summary: "print the fastopen version and build information",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			return func(args []string) error {
				if len(args) > 0 {
					return cli.Usagef("version takes no arguments, got %q", args)
				}
				v := version
				if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
				fmt.Printf("fastopen %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	})
}
