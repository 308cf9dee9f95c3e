package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/cli"
	"github.com/fastopen/fastopen/internal/pathstate"
)

// sendRecord is one line of `fastopen send --json`.
type sendRecord struct {
	Conn  int    `json:"conn"`
	Reply string `json:"reply"`
	// ReplyBase64 holds the reply's exact bytes when they are not valid
	// UTF-8 (Reply then has U+FFFD in place of the invalid bytes).
	ReplyBase64 string        `json:"reply_base64,omitempty"`
	SYNData     bool          `json:"syn_data"`
	SentInSYN   bool          `json:"sent_in_syn"`
	HadCookie   bool          `json:"had_cookie"`
	SYNBytes    int           `json:"syn_sent_bytes"`
	FirstWrite  int           `json:"first_write_bytes"`
	FailReason  string        `json:"fail_reason"`
	FailText    string        `json:"fail_text,omitempty"`
	ElapsedMS   float64       `json:"elapsed_ms"`
	FirstMS     float64       `json:"first_byte_ms"`
	RTTMS       float64       `json:"rtt_ms"`
	Path        sendPath      `json:"path"`
	Info        fastopen.Info `json:"info"`
}

// sendPath is the path memory's decision for one connection.
type sendPath struct {
	// Decision is "tfo" (TFO tried as usual), "probe" (tried again after a
	// backoff), "avoided" (left out because of earlier failures) or "off"
	// (--plain or --ignore-path-memory).
	Decision string `json:"decision"`
	// Until and Cause, when avoided: TFO is avoided until then because of
	// that failure.
	Until time.Time       `json:"until,omitzero"`
	Cause fastopen.Reason `json:"cause,omitempty"`
}

func pathDecision(inf fastopen.Info, off bool) sendPath {
	switch {
	case off:
		return sendPath{Decision: "off"}
	case inf.Reason == fastopen.ReasonPathMemory:
		return sendPath{Decision: "avoided", Until: inf.PathUntil, Cause: inf.PathCause}
	case inf.PathProbe:
		return sendPath{Decision: "probe"}
	}
	return sendPath{Decision: "tfo"}
}

func init() {
	cli.Register(&cli.Command{
		Name:    "send",
		Summary: "send data to a server, in the SYN when a cookie is cached, and print the reply and what TFO did",
		Usage: "ADDR [--data 'hello!' | --data-file F|-] [--count N] [--plain] [--eager] [--json] [--state FILE|none] [--ignore-path-memory]\n\n" +
			"  The data must not be empty (TFO carries data in the SYN; with nothing to send there is\n" +
			"  nothing to measure). `fastopen serve` answers one read of at most 2048 bytes and closes;\n" +
			"  send more only to `fastopen serve --stream`, with --stream. --json gives the reply as text\n" +
			"  and, when it is not valid UTF-8, its exact bytes in reply_base64.\n" +
			"  The path memory leaves TFO out for a while where it failed lately (a lost SYN with data,\n" +
			"  a lost cookie request); it is kept in --state between runs (see `fastopen cookies paths`).",
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
			state := fs.String("state", "", "path memory file (default $"+pathstate.EnvFile+", else $XDG_STATE_HOME/fastopen/paths.json); 'none' keeps nothing")
			ignorePaths := fs.Bool("ignore-path-memory", false, "always try TFO, whatever failed before, and record nothing")
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
				if *timeout > maxClientWait || *interval > maxClientWait {
					return cli.Usagef("--timeout %v --interval %v: want at most %v each", *timeout, *interval, maxClientWait)
				}
				payload, err := cli.Unescape(*data)
				if err != nil {
					return cli.Usagef("--data: %v", err)
				}
				if *dataFile != "" {
					if cli.IsSet(fs, "data") {
						return cli.Usagef("--data and --data-file conflict: give the data one way")
					}
					if payload, err = readDataFile(*dataFile); err != nil {
						return err
					}
					if len(payload) == 0 {
						return cli.Usagef("--data-file %s is empty: there is nothing to send (give at least one byte)", *dataFile)
					}
				}
				if len(payload) == 0 {
					return cli.Usagef("--data is empty: there is nothing to send (TFO carries data in the SYN; give at least one byte)")
				}
				d := fastopen.Dialer{Disable: *plain, Require: *require, IgnorePathMemory: *ignorePaths, PathMemory: &fastopen.PathMemory{}}
				if !*plain && !*ignorePaths {
					save, err := loadPaths(*state, d.PathMemory)
					if err != nil {
						return err
					}
					defer save()
				}
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
						return fmt.Errorf("connection %d to %s: %w%s", i, addr, err, sendHint(err, *timeout, len(payload), *stream))
					}
					inf := res.Info
					rec := sendRecord{
						Conn: i, Reply: string(res.Reply), SYNData: inf.SYNData, SentInSYN: inf.SentInSYN, HadCookie: inf.HadCookie,
						SYNBytes: inf.SYNSentBytes, FirstWrite: inf.FirstWriteBytes,
						FailReason: inf.Reason.Code(), ElapsedMS: ms(res.Elapsed), FirstMS: ms(res.FirstByte), RTTMS: ms(inf.RTT), Info: inf,
						Path: pathDecision(inf, *plain || *ignorePaths),
					}
					if inf.Reason != fastopen.ReasonNone {
						rec.FailText = inf.Reason.String()
					}
					if !utf8.Valid(res.Reply) {
						rec.ReplyBase64 = base64.StdEncoding.EncodeToString(res.Reply)
					}
					if *asJSON {
						if err := cli.JSON(os.Stdout, rec); err != nil {
							return err
						}
					} else {
						printSend(os.Stderr, rec)
						if len(res.Reply) < len(payload) && !*stream {
							fmt.Fprintf(os.Stderr, "  note: %s\n", echoLimitNote(len(res.Reply), len(payload)))
						}
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

func printSend(w io.Writer, r sendRecord) {
	syn := "no "
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
	switch r.Path.Decision {
	case "avoided":
		fmt.Fprintf(w, "    path memory: TFO avoided until %s (%s) after %s\n", r.Path.Until.Format(time.TimeOnly), time.Until(r.Path.Until).Round(time.Second), r.Path.Cause.Code())
	case "probe":
		fmt.Fprintf(w, "    path memory: TFO tried again after a backoff\n")
	}
}

// loadPaths fills m from the state file (see internal/pathstate) and
// returns the function that saves it back. A corrupt file is a warning:
// the run starts with an empty memory and replaces the file.
func loadPaths(flagFile string, m *fastopen.PathMemory) (func(), error) {
	name := statePath(flagFile)
	if name == "" {
		return func() {}, nil
	}
	if err := pathstate.Load(name, m); err != nil {
		if errors.Is(err, pathstate.ErrNotRegular) {
			return nil, err
		}
		if !errors.Is(err, pathstate.ErrCorrupt) {
			return nil, fmt.Errorf("%w (use --state FILE, or --state none)", err)
		}
		fmt.Fprintf(os.Stderr, "warning: %v; starting with an empty path memory; the file will be kept as %s and replaced\n", err, pathstate.AsideName(name))
	}
	return func() {
		if err := pathstate.Save(name, m); err != nil {
			fmt.Fprintf(os.Stderr, "warning: path memory not saved: %v\n", err)
		}
	}, nil
}

// echoLimitNote explains a reply shorter than the request.
func echoLimitNote(got, sent int) string {
	return fmt.Sprintf("the reply has %d of the %d bytes sent: `fastopen serve` answers one read of at most %d bytes and closes (use `fastopen serve --stream` and --stream for more)", got, sent, echo.BufferSize)
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// maxDataFile bounds --data-file: send is a probe, not a file transfer,
// and the whole request is held in memory.
const maxDataFile = 16 << 20

func readDataFile(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	what := "standard input"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--data-file: %w", err)
		}
		defer f.Close()
		r, what = f, name
	}
	b, err := io.ReadAll(io.LimitReader(r, maxDataFile+1))
	if err != nil {
		return nil, fmt.Errorf("--data-file: read %s: %w", what, err)
	}
	if len(b) > maxDataFile {
		return nil, fmt.Errorf("--data-file: %s holds more than %d bytes, the most send takes", what, maxDataFile)
	}
	return b, nil
}

// sendHint says what to do about a failed exchange where the user can
// act: nothing listening, no answer in time, or a request longer than
// the echo server answers (it closes with the rest unread: a reset).
func sendHint(err error, timeout time.Duration, sent int, stream bool) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return " (is a server listening there? start one with 'fastopen serve --addr HOST:PORT')"
	case (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) && sent > echo.BufferSize && !stream:
		return fmt.Sprintf(" (the request has %d bytes: `fastopen serve` answers one read of at most %d bytes and closes, and a close with unread data resets the connection; send at most %d bytes, or run `fastopen serve --stream` and send with --stream)", sent, echo.BufferSize, echo.BufferSize)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Sprintf(" (no complete reply within --timeout %v)", timeout)
	}
	return ""
}
