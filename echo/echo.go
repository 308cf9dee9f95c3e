// Package echo is the walkthrough's echo server and client over TCP Fast
// Open: the server answers the first read with the same bytes and closes
// (or, in stream mode, echoes until the client closes, as RFC 862); the
// client sends a request, in the SYN when it can, and times the reply.
//
// Server.Serve runs the server on any net.Listener (a fastopen.Listener
// for TFO); Send performs one exchange with a fastopen.Dialer and returns
// the reply, its timing and the connection's fastopen.Info. `fastopen
// serve` and `fastopen send` are built on them.
package echo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/accept"
)

// BufferSize is the size in bytes of the server's read buffer (the
// walkthrough's recv(2048)): in the default mode a request longer than
// this is answered with its first BufferSize bytes at most.
const BufferSize = 2048

// Server is an echo server. The zero value replies once and closes.
// Serve runs each connection on its own goroutine, so the Accepted and
// Rejected callbacks may be called concurrently. The fields must not be
// changed while Serve runs.
type Server struct {
	// Stream keeps echoing until the client closes, instead of replying to
	// the first read and closing.
	Stream bool
	// IdleTimeout closes a connection that sends nothing, or does not
	// read the echo, for this long (reset by every read); zero means 30s.
	IdleTimeout time.Duration
	// MaxConns is the most connections served at once; zero means no
	// limit. At the limit Serve stops accepting until one ends: further
	// clients wait in the kernel's accept queue (the listener's backlog)
	// and hold no descriptor of the process.
	MaxConns int
	// Logger receives one line per connection (remote address, bytes,
	// syn_data, syn_bytes or reason, duration, error), and a warning when
	// Accept fails for lack of descriptors or memory; nil means no
	// logging.
	Logger *slog.Logger
	// Accepted, if set, is called for each connection after its first
	// read, with its TFO info (for metrics); not when the info cannot be
	// read.
	Accepted func(c net.Conn, info fastopen.Info)
	// Confirm guards against replayed SYN data: before answering data that
	// arrived in the SYN, wait (up to ConfirmTimeout) for the client to
	// complete the handshake (fastopen.Handshake). A replayed SYN never
	// completes it, so its data gets no answer. The cost: such requests
	// wait one extra half round trip, losing TFO's saving.
	Confirm bool
	// ConfirmTimeout bounds the wait of Confirm; zero means 3s.
	ConfirmTimeout time.Duration
	// Rejected, if set, is called for each connection whose SYN data was
	// not answered because its handshake did not complete (Confirm).
	Rejected func(c net.Conn, info fastopen.Info, err error)
}

// Serve accepts connections on ln until ctx is done or ln fails, serving
// each on its own goroutine. On return, ln is closed and every connection
// has finished (or was closed after a grace period of one second). It
// returns nil when ctx ended, and Accept's error when ln failed; running
// out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) is not a
// failure: Serve waits, with backoff up to one second, and accepts again.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	if s.MaxConns > 0 {
		ln = accept.Limit(ln, s.MaxConns)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	var backoff time.Duration
	for {
		c, aerr := ln.Accept()
		if aerr != nil && ctx.Err() == nil && accept.Retryable(aerr) {
			// Out of descriptors or memory: wait for connections to end
			// rather than stop serving (as net/http does).
			backoff = accept.Backoff(backoff)
			if s.Logger != nil {
				s.Logger.Warn("accept failed; retrying", slog.String("error", aerr.Error()), slog.Duration("retry_in", backoff))
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			continue
		}
		if aerr != nil {
			if ctx.Err() == nil {
				err = aerr
			}
			break
		}
		backoff = 0
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
	ln.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		<-done
	}
	return err
}

func (s *Server) confirm(c net.Conn) error {
	timeout := s.ConfirmTimeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return fastopen.Handshake(ctx, c)
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	idle := s.IdleTimeout
	if idle == 0 {
		idle = 30 * time.Second
	}
	start := time.Now()
	buf := make([]byte, BufferSize)
	var total int
	var info fastopen.Info
	var infoErr error
	var rerr error
	for first := true; ; first = false {
		// The deadline covers the echo's write too: a client that sends
		// but never reads must not hold the connection forever.
		c.SetDeadline(time.Now().Add(idle))
		n, err := c.Read(buf)
		if first {
			info, infoErr = fastopen.InfoOf(c)
			if s.Accepted != nil && infoErr == nil {
				s.Accepted(c, info)
			}
			if s.Confirm && info.SYNData {
				if herr := s.confirm(c); herr != nil {
					if s.Rejected != nil {
						s.Rejected(c, info, herr)
					}
					rerr = fmt.Errorf("SYN data not answered, handshake did not complete (replayed SYN?): %w", herr)
					break
				}
			}
		}
		if n > 0 {
			total += n
			if _, werr := c.Write(buf[:n]); werr != nil {
				rerr = werr
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
		if !s.Stream {
			break
		}
	}
	if s.Logger == nil {
		return
	}
	attrs := []any{
		slog.String("remote", c.RemoteAddr().String()),
		slog.Int("bytes", total),
		slog.Bool("syn_data", info.SYNData),
	}
	if info.SYNData {
		attrs = append(attrs, slog.Int("syn_bytes", info.SYNBytes))
	} else if infoErr == nil {
		attrs = append(attrs, slog.String("reason", info.Reason.Code()))
	}
	if infoErr != nil {
		attrs = append(attrs, slog.String("info_error", infoErr.Error()))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(start).Round(time.Microsecond)))
	if rerr != nil {
		attrs = append(attrs, slog.String("error", rerr.Error()))
	}
	s.Logger.Info("connection", attrs...)
}

// Mode says how Send dials. The zero value is Lazy.
type Mode int

// Dial modes.
const (
	// Lazy uses Dialer.DialContext: the write after the dial rides in the
	// SYN.
	Lazy Mode = iota
	// Eager uses Dialer.DialData: the data goes in the SYN and the dial
	// returns when the handshake is over.
	Eager
)

// Request is one exchange for Send.
type Request struct {
	// Network and Address to dial ("tcp", "127.0.0.1:8000").
	Network, Address string
	// Data is sent first, in the SYN when possible (about one MSS of it
	// fits; the rest follows the handshake).
	Data []byte
	// Mode picks the dial call.
	Mode Mode
	// ReplySize, if positive, stops reading after that many bytes (for
	// servers that keep the connection open); otherwise Send reads until
	// the server closes.
	ReplySize int
	// MaxReply bounds how many bytes of the reply are kept in
	// Result.Reply; zero or negative means 1 MiB. Reading goes on past it.
	MaxReply int
}

// Result is the outcome of one exchange.
type Result struct {
	// Reply is what the server sent back.
	Reply []byte
	// Info is the client connection's TFO info, taken after the reply.
	Info fastopen.Info
	// Elapsed runs from the start of the dial to the reply's last byte
	// (to the end of the exchange when there was no reply).
	Elapsed time.Duration
	// FirstByte runs from the start of the dial to the reply's first byte;
	// zero when there was no reply.
	FirstByte time.Duration
}

// Send dials with d, sends req.Data, reads the reply and reports the
// connection's TFO info. It honours ctx for the whole exchange. A failed
// dial returns the Dialer's error (a *net.OpError; with Dialer.Require,
// one matching fastopen.ErrNotUsed when the data could not go in the
// SYN). After the dial, a failed Write or Read returns the connection's
// error, or ctx.Err() if ctx ended, with the reply received so far in
// Result.
func Send(ctx context.Context, d *fastopen.Dialer, req Request) (Result, error) {
	var res Result
	maxReply := req.MaxReply
	if maxReply <= 0 {
		maxReply = 1 << 20
	}
	start := time.Now()
	var c net.Conn
	var err error
	if req.Mode == Eager {
		var fc *fastopen.Conn
		fc, err = d.DialData(ctx, req.Network, req.Address, req.Data)
		if fc != nil {
			c = fc
		}
	} else {
		c, err = d.DialContext(ctx, req.Network, req.Address)
	}
	if err != nil {
		return res, err
	}
	defer c.Close()
	// ctx bounds everything after the dial too: the lazy dial's Write
	// (which blocks until the handshake when the data is larger than the
	// SYN can carry) and the reads.
	// The deadline first: a cancellation in between must not be
	// overwritten by it.
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if req.Mode != Eager {
		if _, err := c.Write(req.Data); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return res, err
		}
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := c.Read(buf)
		if n > 0 {
			if res.FirstByte == 0 {
				res.FirstByte = time.Since(start)
			}
			if room := maxReply - len(res.Reply); room > 0 {
				res.Reply = append(res.Reply, buf[:min(n, room)]...)
			}
			res.Elapsed = time.Since(start)
		}
		if req.ReplySize > 0 && len(res.Reply) >= req.ReplySize {
			break
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				rerr = ctx.Err()
			}
			return res, rerr
		}
	}
	if res.Elapsed == 0 {
		res.Elapsed = time.Since(start)
	}
	res.Info, err = fastopen.InfoOf(c)
	return res, err
}
