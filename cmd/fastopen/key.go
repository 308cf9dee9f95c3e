package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/key"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "key",
		Summary: "make, check and rotate TFO server cookie keys (key new | key check FILE | key rotate --secret-file F ...)",
		Usage: "new | check FILE | rotate --secret-file F [--interval 24h] [--sysctl] [--key-file OUT] [--daemon]\n\n" +
			"  new     print a fresh random key in the kernel's format (fastopen key new > tfo.key && chmod 600 tfo.key)\n" +
			"  check   validate a key file as `fastopen serve --key-file` would (never prints the key)\n" +
			"  rotate  derive this interval's keys from a secret shared by the fleet (HKDF-SHA256) and install\n" +
			"          them: [current, previous] in the first half of an interval, [current, next] in the second.\n" +
			"          Runs once (cron, systemd timer at least every interval/2) or with --daemon.",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			secretFile := fs.String("secret-file", "", "rotate: `FILE` with the fleet's shared secret (at least 16 bytes, not world-readable)")
			interval := fs.Duration("interval", 24*time.Hour, "rotate: lifetime of one key; the same on every server")
			toSysctl := fs.Bool("sysctl", false, "rotate: install into net.ipv4.tcp_fastopen_key (this namespace's listeners without their own key)")
			keyFile := fs.String("key-file", "", "rotate: write the keys to this `FILE`, for fastopen serve --key-file (which reloads it on change)")
			daemon := fs.Bool("daemon", false, "rotate: keep running, installing new keys at every half interval")
			return func(args []string) error {
				if len(args) == 0 {
					return cli.Usagef("missing subcommand: new, check or rotate")
				}
				switch args[0] {
				case "new":
					if len(args) > 1 {
						return cli.Usagef("key new takes no arguments")
					}
					k, err := fastopen.NewKey()
					if err != nil {
						return err
					}
					fmt.Println(k)
					return nil
				case "check":
					if len(args) != 2 {
						return cli.Usagef("key check takes one file name")
					}
					_, backup, err := key.LoadKeyFile(args[1])
					if err != nil {
						return err
					}
					fmt.Printf("%s: valid TFO key file (primary key%s)\n", args[1], map[bool]string{true: " and backup key"}[backup != nil])
					return nil
				case "rotate":
					if len(args) > 1 {
						return cli.Usagef("key rotate takes flags only, got %q", args[1])
					}
					if *secretFile == "" {
						return cli.Usagef("key rotate needs --secret-file (make one: head -c 32 /dev/urandom | base64 > F && chmod 600 F)")
					}
					if !*toSysctl && *keyFile == "" {
						return cli.Usagef("key rotate needs a target: --sysctl and/or --key-file OUT")
					}
					return runRotate(*secretFile, *interval, *toSysctl, *keyFile, *daemon)
				}
				return cli.Usagef("unknown subcommand %q: want new, check or rotate", args[0])
			}
		},
	})
}

func runRotate(secretFile string, interval time.Duration, toSysctl bool, keyFile string, daemon bool) error {
	secret, err := key.LoadSecretFile(secretFile)
	if err != nil {
		return err
	}
	r := key.Rotation{Secret: secret, Interval: interval}
	if err := r.Validate(); err != nil {
		return cli.Usagef("%v", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	install := func(p, b fastopen.Key) error {
		now := time.Now()
		if toSysctl {
			if err := key.SetSysctlKey(p, &b); err != nil {
				return err
			}
		}
		if keyFile != "" {
			if err := key.WriteKeyFile(keyFile, p, &b); err != nil {
				return err
			}
		}
		half := "first half: backup is the previous interval's key"
		if now.Sub(time.Unix(0, r.Number(now)*interval.Nanoseconds())) >= interval/2 {
			half = "second half: backup is the next interval's key"
		}
		log.Info("TFO keys installed", "interval", r.Number(now), "phase", half, "next_change", r.NextChange(now).Format(time.RFC3339))
		return nil
	}
	if !daemon {
		p, b := r.Keys(time.Now())
		return install(p, b)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = key.RotateLoop(ctx, r, time.Now, time.Minute, install, func(err error) {
		log.Error("TFO key rotation failed; retrying", "err", err)
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
