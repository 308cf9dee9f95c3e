package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/echo"
	"github.com/fastopen/fastopen/internal/table"
	"github.com/fastopen/fastopen/lab"
)

// RateConfig configures RunRate.
type RateConfig struct {
	// Duration is the measuring time per variant (split in two halves,
	// TFO and plain alternating); zero means 2s.
	Duration time.Duration
	// Size is the request (and reply) size; zero means 6 bytes.
	Size int
	// Host is the namespace whose loopback is used (nil: the caller's).
	Host *lab.Host
}

// RateResult is the outcome of RunRate; its JSON form is what `fastopen
// bench --mode rate --json` prints:
//
//	{"duration_s": 2, "size": 6, "client_cpu": 0, "server_cpu": 1,
//	 "pinned": true, "results": [{"tfo": true, "conns": 31000,
//	 "per_second": 15500, "syn_data_ratio": 1, "errors": 0}, ...],
//	 "tfo_gain": 1.2}
type RateResult struct {
	// DurationS is the measuring time per variant in seconds.
	DurationS float64 `json:"duration_s"`
	// Size is the request size in bytes.
	Size int `json:"size"`
	// ClientCPU and ServerCPU are the CPUs the client and server threads
	// were pinned to; Pinned is false when pinning failed (Note says why).
	ClientCPU int  `json:"client_cpu"`
	ServerCPU int  `json:"server_cpu"`
	Pinned    bool `json:"pinned"`
	// Results has one entry with TFO and one without.
	Results []RateStat `json:"results"`
	// TFOGain is TFO's connections per second over plain TCP's.
	TFOGain float64 `json:"tfo_gain"`
	// Note explains limits (pinning, a kernel with server TFO off).
	Note string `json:"note,omitempty"`
}

// RateStat is the connection rate of one variant.
type RateStat struct {
	// TFO reports whether the client asked for TFO.
	TFO bool `json:"tfo"`
	// Conns is the number of completed request/response connections.
	Conns int `json:"conns"`
	// PerSecond is Conns over the measuring time.
	PerSecond float64 `json:"per_second"`
	// SYNDataRatio is the share of connections whose request rode in the
	// SYN.
	SYNDataRatio float64 `json:"syn_data_ratio"`
	// Errors counts failed connections.
	Errors int `json:"errors"`
}

// RunRate measures how many short request/response connections per
// second a server sustains on loopback, with TFO and with plain TCP: one
// client thread and one server thread (serving connections one at a
// time), pinned to different CPUs when there are two. A bad cfg gives an
// error wrapping ErrConfig. It needs no privileges; with the kernel's
// client or server TFO bit off in that namespace the TFO variant's
// SYNDataRatio shows that its data did not ride in the SYN.
func RunRate(ctx context.Context, cfg RateConfig) (*RateResult, error) {
	if cfg.Duration == 0 {
		cfg.Duration = 2 * time.Second
	}
	if cfg.Size == 0 {
		cfg.Size = 6
	}
	if cfg.Duration < 0 || cfg.Size < 0 || cfg.Size > echo.BufferSize {
		return nil, fmt.Errorf("%w: duration %v and size %d: want a positive duration and 1 to %d bytes", ErrConfig, cfg.Duration, cfg.Size, echo.BufferSize)
	}
	res := &RateResult{DurationS: cfg.Duration.Seconds(), Size: cfg.Size, ServerCPU: min(1, runtime.NumCPU()-1)}
	var ln net.Listener
	err := runIn(cfg.Host, func() error {
		lc := fastopen.ListenConfig{QueueLen: benchQueueLen}
		var err error
		ln, err = lc.Listen(ctx, "tcp", "127.0.0.1:0")
		return err
	})
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		served <- runIn(cfg.Host, func() error {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if unpin, err := pin(res.ServerCPU); err == nil {
				defer unpin()
			}
			buf := make([]byte, echo.BufferSize)
			for {
				c, err := ln.Accept()
				if err != nil {
					return nil // listener closed
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if n, err := io.ReadFull(c, buf[:cfg.Size]); err == nil {
					c.Write(buf[:n])
				}
				c.Close()
			}
		})
	}()

	addr := ln.Addr().String()
	data := payload(cfg.Size)
	stats := []RateStat{{TFO: true}, {TFO: false}}
	var elapsed [2]time.Duration
	err = runIn(cfg.Host, func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		unpin, err := pin(res.ClientCPU)
		if err != nil {
			res.Note = "not pinned: " + err.Error()
		} else {
			res.Pinned = true
			defer unpin()
		}
		one := func(tfo bool) (bool, error) {
			d := &fastopen.Dialer{Disable: !tfo, IgnorePathMemory: true} // measure TFO itself
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			r, err := echo.Send(cctx, d, echo.Request{Network: "tcp", Address: addr, Data: data})
			if err == nil && len(r.Reply) != len(data) {
				err = fmt.Errorf("reply of %d bytes, want %d", len(r.Reply), len(data))
			}
			return r.Info.SYNData, err
		}
		for range 3 { // warm-up: the first fetches the cookie
			if _, err := one(true); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
		for half := range 2 {
			for i := range stats {
				st := &stats[i]
				start := time.Now()
				end := start.Add(cfg.Duration / 2)
				for time.Now().Before(end) {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					syn, err := one(st.TFO)
					if err != nil {
						st.Errors++
						if st.Errors > 100 {
							return fmt.Errorf("too many failed connections (round %d): %w", half+1, err)
						}
						continue
					}
					st.Conns++
					if syn {
						st.SYNDataRatio++
					}
				}
				elapsed[i] += time.Since(start)
			}
		}
		return nil
	})
	ln.Close()
	if serr := <-served; serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	for i := range stats {
		st := &stats[i]
		st.PerSecond = round3(float64(st.Conns) / elapsed[i].Seconds())
		if st.Conns > 0 {
			st.SYNDataRatio = round3(st.SYNDataRatio / float64(st.Conns))
		}
	}
	res.Results = stats
	if stats[1].PerSecond > 0 {
		res.TFOGain = round3(stats[0].PerSecond / stats[1].PerSecond)
	}
	if stats[0].SYNDataRatio < 0.99 && res.Note == "" {
		res.Note = "TFO connections did not all carry their data in the SYN: is the server bit (2) of net.ipv4.tcp_fastopen set in this namespace?"
	}
	if res.ClientCPU == res.ServerCPU && res.Note == "" {
		res.Note = "one CPU only: client and server share it"
	}
	return res, nil
}

// WriteRate writes a rate result for people.
func WriteRate(w io.Writer, res *RateResult) {
	rows := [][]string{{"client", "connections", "per second", "data in SYN", "errors"}}
	for _, s := range res.Results {
		name := "plain TCP"
		if s.TFO {
			name = "TFO (lazy Dialer)"
		}
		rows = append(rows, []string{name, fmt.Sprint(s.Conns), fmt.Sprintf("%.0f", s.PerSecond), fmt.Sprintf("%.0f%%", s.SYNDataRatio*100), fmt.Sprint(s.Errors)})
	}
	pinned := fmt.Sprintf("client on CPU %d, server on CPU %d", res.ClientCPU, res.ServerCPU)
	if !res.Pinned {
		pinned = "threads not pinned"
	}
	fmt.Fprintf(w, "short %d-byte request/response connections on loopback, %.1fs each, %s:\n", res.Size, res.DurationS, pinned)
	table.Write(w, rows)
	fmt.Fprintf(w, "TFO sustains %.2f× the connection rate of plain TCP.\n", res.TFOGain)
	if res.Note != "" {
		fmt.Fprintf(w, "note: %s\n", res.Note)
	}
}
