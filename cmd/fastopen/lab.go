package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/lab"
	"github.com/fastopen/fastopen/sysctl"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "lab",
		Summary: "emulated network: two namespace hosts joined by a link with real delay, loss and middlebox faults",
		Usage:   "up|exec|status|down|selftest [flags]",
		Setup:   setupLab,
		Subs: []cli.Sub{
			{Name: "up", Usage: "[--rtt 100ms] [--loss P] [--fault NAME]... [--detach] [--json]",
				Summary: "start a lab: two hosts joined by an emulated link (foreground until Ctrl-C, or --detach)",
				Help: `Creates hosts "client" (10.200.0.1, fd00:f0::1) and "server" (10.200.0.2, fd00:f0::2), each in its
own network namespace, and forwards packets between them with the given delay, loss and faults until
Ctrl-C (or, with --detach, in the background until 'fastopen lab down'). Needs root / CAP_NET_ADMIN.
Faults: ` + lab.FaultNames,
				Flags: []string{"rtt", "jitter", "loss", "dup", "dup-delay", "rate", "mtu", "fault", "client-tfo", "server-tfo", "no-realtime", "seed", "detach", "json"}},
			{Name: "exec", Usage: "client|server [--] CMD [ARGS...]",
				Summary: "run a command inside a host of the running lab",
				Help: `For example: fastopen lab exec client -- fastopen send 10.200.0.2:8000 --count 3
Everything after the host name belongs to the command. The exit status is the command's.`},
			{Name: "status", Usage: "[--json]",
				Summary: "show the running lab: hosts, addresses, live link statistics (exit status 1: no lab runs)",
				Flags:   []string{"json"}},
			{Name: "down", Usage: "[--json]",
				Summary: "stop the running lab and the processes in its hosts; clean up after a lab that was killed",
				Flags:   []string{"json"}},
			{Name: "selftest", Usage: "[--connects 50] [--pps 10000] [--json]",
				Summary: "measure the lab itself in a temporary lab: connect times, forwarding lateness, throughput",
				Help:    "Exit status 1 when a target is missed.",
				Flags:   []string{"connects", "pps", "json"}},
		},
		// `lab exec HOST CMD ARGS...`: CMD's flags are its own.
		Passthrough: func(pos []string) bool { return len(pos) == 2 && pos[0] == "exec" },
	})
}

func setupLab(fs *flag.FlagSet) func([]string) error {
	rtt := fs.Duration("rtt", 100*time.Millisecond, "round-trip time (half each way), up to 10s; 0 adds no delay")
	jitter := fs.Duration("jitter", 0, "random extra delay per packet, ±, order kept (up to 5s)")
	loss := fs.Float64("loss", 0, "random loss probability per packet and direction (0 to below 1)")
	dup := fs.Float64("dup", 0, "duplication probability per packet and direction (0..1)")
	dupDelay := fs.Duration("dup-delay", time.Millisecond, "extra delay of a duplicate")
	rate := fs.String("rate", "", "bandwidth cap per direction, e.g. 100mbit, at least 64kbit (default unlimited)")
	mtu := fs.Int("mtu", lab.DefaultMTU, "MTU of the link (1280 to 65535)")
	noRT := fs.Bool("no-realtime", false, "keep the forwarder's threads at normal priority (default: SCHED_FIFO when root)")
	seed := fs.Uint64("seed", 0, "random seed (0 = from the clock)")
	clientTFO := fs.Int("client-tfo", int(lab.DefaultFastOpen), "net.ipv4.tcp_fastopen in the client")
	serverTFO := fs.Int("server-tfo", int(lab.DefaultFastOpen), "net.ipv4.tcp_fastopen in the server")
	detach := fs.Bool("detach", false, "leave the lab running in the background (stop with 'lab down')")
	asJSON := fs.Bool("json", false, "machine-readable output")
	connects := fs.Int("connects", 50, "selftest: connections to time")
	pps := fs.Int("pps", 10000, "selftest: packets per second per direction")
	var faults []lab.Rule
	fs.Func("fault", "middlebox fault (repeatable): "+lab.FaultNames, func(s string) error {
		r, err := lab.ParseFault(s)
		faults = append(faults, r...)
		return err
	})

	return func(args []string) error {
		if len(args) == 0 {
			return cli.Usagef("missing subcommand: up, exec, status, down or selftest")
		}
		switch args[0] {
		case "up":
			if len(args) > 1 {
				return cli.Usagef("unexpected argument %q after 'up'", args[1])
			}
			cfg := lab.Config{
				RTT: *rtt, MTU: *mtu, Seed: *seed, Faults: faults, NoRealtime: *noRT,
				ClientFastOpen: tfoMode(*clientTFO), ServerFastOpen: tfoMode(*serverTFO),
			}
			link := lab.LinkConfig{Jitter: *jitter, Loss: *loss, Duplicate: *dup, DupDelay: *dupDelay}
			if *rate != "" {
				r, err := lab.ParseRate(*rate)
				if err != nil {
					return cli.Usagef("--rate: %v", err)
				}
				link.Rate = r
			}
			cfg.Up, cfg.Down = link, link
			if *mtu == 0 {
				// lab.Config takes 0 as the default; on the command line
				// it is a value given, and out of range.
				return cli.Usagef("--mtu 0 out of range: use 1280 (the IPv6 minimum) to %d", lab.MaxMTU)
			}
			if *clientTFO < 0 || *serverTFO < 0 {
				return cli.Usagef("--client-tfo and --server-tfo are net.ipv4.tcp_fastopen values: 0 (off), 1 (client), 2 (server), 3 (both), ...")
			}
			// Check here, not in a detached child whose error would only reach its log.
			if err := cfg.Validate(); err != nil {
				return cli.Usagef("%s", strings.TrimPrefix(err.Error(), "lab: "))
			}
			if *detach {
				return labDetach(*asJSON)
			}
			return labUp(cfg, *asJSON)
		case "exec":
			if len(args) < 3 {
				return cli.Usagef("missing command: lab exec client|server -- CMD [ARGS...]")
			}
			return labExec(args[1], args[2:])
		case "status", "down", "selftest":
			if len(args) > 1 {
				return cli.Usagef("unexpected argument %q after '%s'", args[1], args[0])
			}
		}
		switch args[0] {
		case "status":
			return labStatus(*asJSON)
		case "down":
			return labDown(*asJSON)
		case "selftest":
			return labSelfTest(*connects, *pps, *asJSON)
		}
		return cli.Usagef("unknown subcommand %q: want up, exec, status, down or selftest", args[0])
	}
}

func tfoMode(v int) sysctl.Mode {
	if v == 0 {
		return lab.FastOpenOff
	}
	return sysctl.Mode(v)
}

// labUp runs a lab in the foreground until a signal (or, as the detached
// lab's process, until `lab down`).
func labUp(cfg lab.Config, asJSON bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	daemon := lab.Detached()
	res, err := lab.Run(ctx, cfg, func(st *lab.State) {
		switch {
		case daemon:
			fmt.Printf("lab up, pid %d\n", os.Getpid())
		case asJSON:
			cli.JSON(os.Stdout, st)
		default:
			printLab(os.Stdout, st, true)
		}
	})
	if err != nil {
		return err
	}
	if res.Stopped > 0 {
		fmt.Fprintf(os.Stderr, "stopped %d process(es) still running in the lab's hosts\n", res.Stopped)
	}
	if asJSON && !daemon {
		return cli.JSON(os.Stdout, res.Stats)
	}
	fmt.Fprintln(os.Stderr, "\nlab down; link statistics:")
	printStats(os.Stderr, res.Stats)
	return nil
}

// labDetach starts the same command in the background without --detach.
func labDetach(asJSON bool) error {
	var args []string
	for _, a := range os.Args[1:] {
		if a == "--detach" || a == "-detach" || strings.HasPrefix(a, "--detach=") || strings.HasPrefix(a, "-detach=") {
			continue
		}
		args = append(args, a)
	}
	st, err := lab.StartDetached(args, 15*time.Second)
	if err != nil {
		return err
	}
	if asJSON {
		return cli.JSON(os.Stdout, st)
	}
	printLab(os.Stdout, st, false)
	fmt.Printf("running in the background as pid %d (log: %s); stop it with: %s\n", st.PID, lab.LogPath, lab.Command("down"))
	return nil
}

func printLab(w io.Writer, st *lab.State, foreground bool) {
	faults := "none"
	if len(st.Faults) > 0 {
		faults = strings.Join(st.Faults, ", ")
	}
	fmt.Fprintf(w, "lab up: RTT %v, MTU %d, faults: %s\n\n", st.RTT, st.MTU, faults)
	link := [][]string{{"DIR", "DELAY", "JITTER", "LOSS", "DUP", "RATE"}}
	for _, d := range []struct {
		name string
		l    lab.LinkState
	}{{"client→server", st.Up}, {"server→client", st.Down}} {
		rate := "unlimited"
		if d.l.Rate > 0 {
			rate = lab.FormatRate(d.l.Rate)
		}
		link = append(link, []string{d.name, d.l.Delay.String(), "±" + d.l.Jitter.String(),
			strconv.FormatFloat(d.l.Loss, 'g', -1, 64), strconv.FormatFloat(d.l.Duplicate, 'g', -1, 64), rate})
	}
	cli.Table(w, link)
	fmt.Fprintln(w)
	if c := st.Cleaned; c != nil {
		fmt.Fprintf(w, "removed what dead labs left: namespaces %s (after stopping %d process(es) in them)\n\n", strings.Join(c.Removed, ", "), c.Stopped)
	}
	rows := [][]string{{"HOST", "NAMESPACE", "IPv4", "IPv6"}}
	for _, name := range []string{"client", "server"} {
		h := st.Hosts[name]
		rows = append(rows, []string{name, h.NS, h.IPv4, h.IPv6})
	}
	cli.Table(w, rows)
	srv := st.Hosts["server"]
	fmt.Fprintf(w, "\nrun commands in a host:\n")
	fmt.Fprintf(w, "  %s\n", lab.Command("exec server -- python3 -m http.server 8080 --bind "+srv.IPv4))
	fmt.Fprintf(w, "  %s\n", lab.Command("exec client -- curl http://"+srv.IPv4+":8080/"))
	fmt.Fprintf(w, "  ip netns exec %s CMD...   (same thing with iproute2)\n", srv.NS)
	if foreground {
		fmt.Fprintf(w, "\nthe lab stays up until Ctrl-C (or '%s')\n", lab.Command("down"))
	}
}

func printStats(w io.Writer, s lab.Stats) {
	rows := [][]string{{"DIR", "PACKETS", "DELIVERED", "LOST", "FAULT-DROPS", "QUEUE-DROPS", "DUPS", "LATE-P50", "LATE-P99", "LATE-MAX"}}
	for _, d := range []struct {
		name string
		s    lab.DirStats
	}{{"client→server", s.Up}, {"server→client", s.Down}} {
		rows = append(rows, []string{d.name, u(d.s.Packets), u(d.s.Delivered), u(d.s.Lost + d.s.DroppedNth),
			u(d.s.FaultDrops), u(d.s.QueueDrops), u(d.s.Duplicated),
			d.s.Lateness.P50.String(), d.s.Lateness.P99.String(), d.s.Lateness.Max.String()})
	}
	cli.Table(w, rows)
	if len(s.Rules) > 0 {
		fmt.Fprintln(w)
		rows = [][]string{{"FAULT", "DIR", "HITS"}}
		for _, r := range s.Rules {
			rows = append(rows, []string{r.Name, r.Dir.String(), u(r.Hits)})
		}
		cli.Table(w, rows)
	}
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

// labExec runs a command inside a host of the running lab.
func labExec(host string, argv []string) error {
	if host != "client" && host != "server" {
		return cli.Usagef("unknown host %q: want client or server", host)
	}
	st, err := runningLab()
	if err != nil {
		return err
	}
	if argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return cli.Usagef("missing command: lab exec %s -- CMD [ARGS...]", host)
	}
	h, err := lab.Attach(host, st.Hosts[host].NS)
	if err != nil {
		return err
	}
	defer h.Close()
	cmd := h.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The terminal's Ctrl-C reaches the child; it decides, we wait.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &cli.ExitError{Code: max(ee.ExitCode(), 1)}
	}
	if err != nil {
		return fmt.Errorf("run %s in %s: %w", argv[0], host, err)
	}
	return nil
}

// labStatusJSON is `lab status --json`: the state of the running lab
// with its latest link statistics.
type labStatusJSON struct {
	Running bool `json:"running"`
	*lab.State
	Stats *lab.Stats `json:"stats,omitempty"`
}

// runningLab reads the running lab's state; when its process has died it
// says what is left and how to remove it.
func runningLab() (*lab.State, error) {
	st, err := lab.ReadState()
	if errors.Is(err, lab.ErrNoLab) && st != nil {
		if left := st.Left(); len(left) > 0 {
			return nil, fmt.Errorf("no lab is running: the last one (pid %d) has died; run '%s' to remove what it left (namespaces %s)",
				st.PID, lab.Command("down"), strings.Join(left, ", "))
		}
		return nil, fmt.Errorf("no lab is running: the last one (pid %d) has died and its namespaces were already removed (by a later lab's clean-up); run '%s' to clear its state",
			st.PID, lab.Command("down"))
	}
	return st, err
}

func labStatus(asJSON bool) error {
	st, err := runningLab()
	if err != nil {
		if asJSON {
			cli.JSON(os.Stdout, labStatusJSON{})
		}
		return &cli.ExitError{Code: 1, Err: err}
	}
	if asJSON {
		out := labStatusJSON{Running: true, State: st}
		if s, err := lab.ReadStats(); err == nil {
			out.Stats = &s
		}
		return cli.JSON(os.Stdout, out)
	}
	printLab(os.Stdout, st, false)
	fmt.Printf("pid %d, up since %s\n", st.PID, st.Started.Format(time.RFC3339))
	if s, err := lab.ReadStats(); err == nil {
		fmt.Println("\nlink statistics (refreshed every second):")
		printStats(os.Stdout, s)
	}
	return nil
}

func labDown(asJSON bool) error {
	st, err := lab.ReadState()
	if err != nil && !errors.Is(err, lab.ErrNoLab) {
		return err
	}
	running := st.Alive()
	left := st.Left()
	c, err := lab.Stop(st, 5*time.Second)
	if err != nil {
		return err
	}
	if asJSON {
		pid, dead := 0, 0
		if running {
			pid = st.PID
		} else if st != nil {
			dead = st.PID
		}
		if c.Removed == nil {
			c.Removed = []string{} // [] rather than null
		}
		return cli.JSON(os.Stdout, map[string]any{"stopped_pid": pid, "dead_pid": dead,
			"removed_namespaces": c.Removed, "stopped_processes": c.Stopped})
	}
	switch {
	case running:
		fmt.Printf("stopped the lab (pid %d)\n", st.PID)
	case st != nil && st.PID > 0 && len(left) == 0:
		fmt.Printf("cleared the state of a dead lab (pid %d); its namespaces had already been removed\n", st.PID)
	case st != nil && st.PID > 0:
		fmt.Printf("cleaned up after a dead lab (pid %d)\n", st.PID)
	default:
		fmt.Println("no lab was running")
	}
	if c.Stopped > 0 {
		fmt.Printf("stopped %d process(es) left in dead labs' namespaces\n", c.Stopped)
	}
	for _, n := range c.Removed {
		fmt.Printf("removed stale namespace %s\n", n)
	}
	return nil
}

func labSelfTest(connects, pps int, asJSON bool) error {
	if connects < 2 || pps < 1 {
		return cli.Usagef("--connects must be ≥ 2 and --pps ≥ 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := lab.SelfTest(ctx, lab.SelfTestConfig{Connects: connects, PPS: pps}, func(s string) {
		fmt.Fprintln(os.Stderr, "selftest:", s)
	})
	if err != nil {
		return err
	}
	if asJSON {
		if err := cli.JSON(os.Stdout, r); err != nil {
			return err
		}
	} else {
		ok := func(b bool) string {
			if b {
				return "yes"
			}
			return "NO"
		}
		ms := func(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/1e6) }
		cli.Table(os.Stdout, [][]string{
			{"MEASUREMENT", "RESULT", "TARGET", "MET"},
			{fmt.Sprintf("connect median at RTT %v (%d)", r.RTT, r.Connects), ms(r.ConnectMedian), "RTT ± 0.5ms", ok(r.ConnectMedianOK)},
			{"connect p99", ms(r.ConnectP99), "RTT ± 1.5ms", ok(r.ConnectP99OK)},
			{fmt.Sprintf("lateness client→server at %d pkt/s", r.PPS), fmt.Sprintf("p50 %v p99 %v max %v", r.Up.P50, r.Up.P99, r.Up.Max), "p99 < 0.2ms", ok(r.Up.P99 < lab.TargetLatenessP99)},
			{fmt.Sprintf("lateness server→client at %d pkt/s", r.PPS), fmt.Sprintf("p50 %v p99 %v max %v", r.Down.P50, r.Down.P99, r.Down.Max), "p99 < 0.2ms", ok(r.Down.P99 < lab.TargetLatenessP99)},
			{fmt.Sprintf("bulk TCP, zero delay, MTU %d", lab.MaxMTU), fmt.Sprintf("%.0f Mbit/s", r.BulkMbps), "≥ 500 Mbit/s", ok(r.BulkOK)},
			{"bulk TCP, zero delay, MTU 1500", fmt.Sprintf("%.0f Mbit/s", r.BulkMbps1500), "(for reference)", "-"},
		})
	}
	if !r.OK() {
		return &cli.ExitError{Code: 1, Err: errors.New("selftest: a target was missed")}
	}
	return nil
}
