package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/trace"
)

func init() {
	cli.Register(&cli.Command{
		Name:    "trace",
		Summary: "show TCP handshakes and what TCP Fast Open did, live or from a pcap file",
		Usage:   "-i IFACE [--port N] [--host IP] [-w FILE] [--count N] [--duration D] [--json] | -r FILE",
		Setup:   setupTrace,
	})
}

func setupTrace(fs *flag.FlagSet) func([]string) error {
	iface := fs.String("i", "", "capture on this interface (lo, a veth, a lab TUN device)")
	port := fs.Int("port", 0, "keep only TCP segments to or from this port (0: any)")
	host := fs.String("host", "", "keep only TCP segments to or from this IP address")
	write := fs.String("w", "", "also write the packets to this file (pcapng if it ends in .pcapng, else pcap)")
	read := fs.String("r", "", "decode a saved pcap or pcapng file instead of capturing")
	jsonOut := fs.Bool("json", false, "print one JSON object per line (events, then connection summaries)")
	count := fs.Int("count", 0, "stop after this many segments (0: no limit)")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	rtt := fs.Duration("rtt", 0, "known round-trip time for the RTT column (default: estimate from each handshake)")
	snaplen := fs.Int("snaplen", trace.DefaultSnaplen, "keep at most this many bytes of each packet (128-262144); with -r, the largest record accepted (default 262144 there)")
	return func(args []string) error {
		if len(args) > 0 {
			return cli.Usagef("unexpected argument %q (flags only; e.g. -i lo --port 8000)", args[0])
		}
		if *port < 0 || *port > 65535 {
			return cli.Usagef("--port %d is not a TCP port (0-65535)", *port)
		}
		if *count < 0 || *duration < 0 || *rtt < 0 {
			return cli.Usagef("--count, --duration and --rtt must not be negative")
		}
		if *snaplen < 128 || *snaplen > trace.MaxSnaplen {
			return cli.Usagef("--snaplen %d: want 128 (enough for the headers) to %d", *snaplen, trace.MaxSnaplen)
		}
		var addr netip.Addr
		if *host != "" {
			a, err := netip.ParseAddr(*host)
			if err != nil {
				return cli.Usagef("--host %q is not an IP address", *host)
			}
			addr = a
		}
		filter := trace.Filter{Port: uint16(*port), Host: addr}
		out := newTraceOutput(os.Stdout, *jsonOut)
		if *read != "" {
			if *iface != "" || *write != "" || *count != 0 || *duration != 0 {
				return cli.Usagef("-r reads a file: it cannot be combined with -i, -w, --count or --duration")
			}
			ro := trace.ReadOptions{Filter: filter, RTT: *rtt, OnEvent: out.event, DiscardEvents: true}
			if cli.IsSet(fs, "snaplen") {
				ro.Snaplen = *snaplen
			}
			_, flows, err := trace.ReadFileOptions(*read, ro)
			if err != nil {
				return err
			}
			return out.summary(flows, nil)
		}
		if *iface == "" {
			return cli.Usagef("give an interface to capture on with -i (e.g. -i lo), or a file to read with -r")
		}
		opts := trace.Options{
			Interface: *iface, Port: *port, Host: addr, Snaplen: *snaplen, RTT: *rtt,
			Count: *count, OnEvent: out.event, DiscardEvents: true,
		}
		var file *os.File
		if *write != "" {
			f, err := os.Create(*write)
			if err != nil {
				return fmt.Errorf("create capture file: %w", err)
			}
			file = f
			defer file.Close()
			opts.Pcap, opts.Format = f, trace.FormatForPath(*write)
		}
		c, err := trace.Start(opts)
		if err != nil {
			if file != nil {
				file.Close()
				os.Remove(*write)
			}
			return err
		}
		if !*jsonOut {
			fmt.Fprintf(os.Stderr, "capturing on %s (%s); stop with Ctrl-C\n", *iface, filter)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		var timeout <-chan time.Time
		if *duration > 0 {
			timeout = time.After(*duration)
		}
		select {
		case <-sig:
		case <-timeout:
		case <-c.Done():
		}
		flows, err := c.Stop()
		if err != nil {
			return err
		}
		if file != nil {
			if err := file.Close(); err != nil {
				return fmt.Errorf("write capture file: %w", err)
			}
		}
		st := c.Stats()
		if err := out.summary(flows, &st); err != nil {
			return err
		}
		if file != nil && !*jsonOut {
			fmt.Fprintf(os.Stderr, "wrote %s (%s); open it with: tshark -r %s -O tcp\n", *write, opts.Format, *write)
		}
		return nil
	}
}

// traceOutput prints events and summaries as text or JSON lines.
type traceOutput struct {
	w    io.Writer
	json bool
	p    *trace.Printer
	err  error
}

func newTraceOutput(w io.Writer, jsonOut bool) *traceOutput {
	return &traceOutput{w: w, json: jsonOut, p: trace.NewPrinter(w)}
}

func (o *traceOutput) event(e trace.Event) {
	if !o.json {
		o.p.Event(e)
		return
	}
	if err := cli.JSON(o.w, struct {
		Type string `json:"type"`
		trace.Event
	}{"event", e}); err != nil && o.err == nil {
		o.err = err
	}
}

func (o *traceOutput) summary(flows []trace.Flow, st *trace.Stats) error {
	if o.err != nil {
		return o.err
	}
	if !o.json {
		o.p.Summary(flows)
		if st != nil {
			fmt.Fprintf(o.w, "\n%d segments captured", st.Packets)
			if st.Undecodable > 0 {
				fmt.Fprintf(o.w, ", %d undecodable", st.Undecodable)
			}
			if st.Dropped > 0 {
				fmt.Fprintf(o.w, ", %d DROPPED by the kernel (capture ring full)", st.Dropped)
			}
			fmt.Fprintln(o.w)
		}
		return nil
	}
	for _, f := range flows {
		if err := cli.JSON(o.w, struct {
			Type string `json:"type"`
			trace.Flow
		}{"flow", f}); err != nil {
			return err
		}
	}
	if st != nil {
		return cli.JSON(o.w, struct {
			Type string `json:"type"`
			trace.Stats
		}{"stats", *st})
	}
	return nil
}
