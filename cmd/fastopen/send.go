package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/cli"
)

// sendRecord is one line of `fastopen send --json`.
type sendRecord struct {
	Conn       int           `json:"conn"`
	Reply      string        `json:"reply"`
	SYNData    bool          `json:"syn_data"`
	SentInSYN  bool          `json:"sent_in_syn"`
	HadCookie  bool          `json:"had_cookie"`
	SYNBytes   int           `json:"syn_sent_bytes"`
	FirstWrite int           `json:"first_write_bytes"`
	FailReason string        `json:"fail_reason"`
	FailText   string        `json:"fail_text,omitempty"`
	ElapsedMS  float64       `json:"elapsed_ms"`
	FirstMS    float64       `json:"first_byte_ms"`
	RTTMS      float64       `json:"rtt_ms"`
	Info       fastopen.Info `json:"info"`
}

func init() {
	cli.Register(&cli.Command{
		Name:    "send",
		Summary: "send data to a server, in the SYN when a cookie is cached, and print the reply and what TFO did",
		Usage:   "ADDR [--data 'hello!'] [--data-file F|-] [--count N] [--plain] [--eager] [--json]",
		Setup: func(fs *flag.FlagSet) func([]string) error {
			data := fs.String("data", "hello!", `data to send; understands \r \n \t \0 \\ \xHH, e.g. 'GET / HTTP/1.0\r\n\r\n'`)
			dataFile := fs.String("data-file", "", "read the data from this file ('-' for standard input) instead of --data")
			count := fs.Int("count", 1, "number of connections, one after the other (the first to a new server gets the cookie)")
			plain := fs.Bool("plain", false, "plain TCP, no TFO (for comparison)")
			eager := fs.Bool("eager", false, "send with DialData: the dial returns once the handshake is over (errors surface at dial)")
			require := fs.Bool("require", false, "fail instead of falling back when the data cannot go in the SYN")
			stream := fs.Bool("stream", false, "the server keeps the connection open (serve --stream): stop reading after as many bytes as were sent")
			timeout := fs.Duration("timeout", 10*time.Second, "limit for each exchange")
			interval := fs.Duration("interval", 0, "pause between connections")
			asJSON := fs.Bool("json", false, "print one JSON object per connection on standard output")
			return func(args []string) error {
				if len(args) != 1 {
					return cli.Usagef("want exactly one address (host:port), got %d arguments", len(args))
				}
				addr := args[0]
				if err := checkHostPort(addr, false); err != nil {
					return cli.Usagef("%v", err)
				}
				if *count < 1 {
					return cli.Usagef("--count must be at least 1, got %d", *count)
				}
				if *timeout <= 0 || *interval < 0 {
					return cli.Usagef("--timeout %v --interval %v: want a positive timeout and an interval of 0 or more", *timeout, *interval)
				}
				payload, err := cli.Unescape(*data)
				if err != nil {
					return cli.Usagef("--data: %v", err)
				}
				if *dataFile != "" {
					if payload, err = readDataFile(*dataFile); err != nil {
						return err
					}
				}
				d := fastopen.Dialer{Disable: *plain, Require: *require}
				req := echo.Request{Network: "tcp", Address: addr, Data: payload}
				if *eager {
					req.Mode = echo.Eager
				}
				if *stream {
					req.ReplySize = len(payload)
				}
				if !*asJSON {
					how := "TFO, lazy dial"
					switch {
					case *plain:
						how = "plain TCP"
					case *eager:
						how = "TFO, eager dial"
					}
					fmt.Fprintf(os.Stderr, "sending %d bytes to %s, %d connection(s), %s\n", len(payload), addr, *count, how)
				}
				adviced := false
				for i := 1; i <= *count; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), *timeout)
					res, err := echo.Send(ctx, &d, req)
					cancel()
					if err != nil {
						return fmt.Errorf("connection %d to %s: %w%s", i, addr, err, sendHint(err, *timeout))
					}
					inf := res.Info
					rec := sendRecord{
						Conn: i, Reply: string(res.Reply), SYNData: inf.SYNData, SentInSYN: inf.SentInSYN, HadCookie: inf.HadCookie,
						SYNBytes: inf.SYNSentBytes, FirstWrite: inf.FirstWriteBytes,
						FailReason: inf.Reason.Code(), ElapsedMS: ms(res.Elapsed), FirstMS: ms(res.FirstByte), RTTMS: ms(inf.RTT), Info: inf,
					}
					if inf.Reason != fastopen.ReasonNone {
						rec.FailText = inf.Reason.String()
					}
					if *asJSON {
						if err := cli.JSON(os.Stdout, rec); err != nil {
							return err
						}
					} else {
						printSend(os.Stderr, rec, len(payload))
						os.Stdout.Write(res.Reply)
						if n := len(res.Reply); n > 0 && res.Reply[n-1] != '\n' {
							fmt.Println()
						}
					}
					if inf.Reason == fastopen.ReasonKernelOff && !adviced && !*asJSON {
						adviced = true
						fmt.Fprintln(os.Stderr, "  advice: client TFO is off in this network namespace: set bit 0x1 of net.ipv4.tcp_fastopen (`fastopen enable client`, or `sysctl -w net.ipv4.tcp_fastopen=3`)")
					}
					if *interval > 0 && i < *count {
						time.Sleep(*interval)
					}
				}
				return nil
			}
		},
	})
}

func printSend(w io.Writer, r sendRecord, sent int) {
	syn := "no "
	if r.SYNData {
		syn = "yes"
	}
	if r.SYNData {
		syn = fmt.Sprintf("yes (%d of %d B)", r.SYNBytes, r.FirstWrite)
	}
	fmt.Fprintf(w, "#%d  reply %d bytes in %.3f ms  data in SYN: %s  rtt %.3f ms", r.Conn, len(r.Reply), r.ElapsedMS, syn, r.RTTMS)
	if r.SYNData && r.FailReason != "" {
		fmt.Fprintf(w, "  (%s: %s)\n", r.FailReason, r.FailText)
	} else if r.SYNData {
		fmt.Fprintf(w, "  (server acknowledged the data in its SYN-ACK)\n")
	} else {
		fmt.Fprintf(w, "  (%s: %s)\n", r.FailReason, r.FailText)
	}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func readDataFile(name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read data from standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--data-file: %w", err)
	}
	return b, nil
}

// sendHint says what to do about a failed exchange where the user can
// act: nothing listening, or no answer in time.
func sendHint(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return " (is a server listening there? start one with 'fastopen serve --addr HOST:PORT')"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf(" (no complete reply within --timeout %v)", timeout)
	}
	return ""
}
