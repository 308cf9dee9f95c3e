// Package relay forwards TCP connections and gives each one the saving of
// TCP Fast Open on the leg where it counts: a Relay accepts a connection,
// reads its first flight (briefly: a bounded wait and size), and opens the
// onward connection with that flight in the SYN (a fastopen.Dialer), then
// copies bytes both ways at full speed, passing half-closes through.
//
// Two relays make TFO work for programs that cannot do it themselves:
//
//	local program → client relay (plain listener, TFO dialer)
//	  → long link →
//	server relay (TFO listener, plain dialer) → server without TFO
//
// The client relay turns the program's first request into SYN data; the
// server relay accepts it in the SYN and, with EarlyForward, passes it to
// the server at once, so a request and its answer cross the long link in
// one round trip instead of two. With NoCookie on both ends of a link
// between relays that trust each other, even the first connection does.
//
// Serve runs a Relay on a listener; Shutdown and Close end it. Stats counts what it
// did and NewCollector exports that to Prometheus. `fastopen relay` is the
// command built on it.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/accept"
)

// DefaultFirstFlightWait is how long a Relay waits for an accepted
// connection's first bytes before it dials without them, when
// FirstFlightWait is zero: long enough for a local program's request,
// which follows its handshake at once, short enough that a protocol whose
// server speaks first (SMTP, SSH banners) does not notice.
const DefaultFirstFlightWait = 5 * time.Millisecond

// DefaultFirstFlightSize is how many bytes a Relay reads as the first
// flight when FirstFlightSize is zero: the MSS of a 1500-byte-MTU IPv4
// path, the most a SYN can carry there (in practice ~1420 B after the SYN's
// options; the kernel sends what does not fit right after the handshake,
// nothing is lost).
const DefaultFirstFlightSize = 1460

// MaxFirstFlightSize bounds FirstFlightSize: the largest TCP payload of a
// 64 KiB IP packet, more than any SYN can carry on any link.
const MaxFirstFlightSize = 65495

// DefaultDialTimeout bounds the onward dial (handshake included) when
// DialTimeout is zero.
const DefaultDialTimeout = 10 * time.Second

// DefaultHandshakeTimeout bounds EarlyWait's wait for the client's
// handshake when HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 3 * time.Second

// Early says what a Relay does with data that arrived in the SYN of an
// accepted connection (a fastopen.Listener's), before the client has
// completed its handshake. The zero value is EarlyWait.
type Early uint8

const (
	// EarlyWait forwards SYN data only once the client has completed the
	// handshake (fastopen.Handshake). A replayed SYN never completes it,
	// so its data never reaches the backend. Safe for every protocol, but
	// the relay's answer leaves one round trip later: the incoming leg
	// saves nothing.
	EarlyWait Early = iota
	// EarlyForward forwards SYN data to the backend at once, which is what
	// saves the round trip. A SYN duplicated by the network or replayed by
	// an attacker who copied it reaches the backend as a second
	// connection carrying the same bytes: use it only for protocols whose
	// first flight is safe to repeat (TLS and SSH handshakes, HTTP GET and
	// HEAD, DNS queries), never for ones that act on it (HTTP POST,
	// plaintext database or cache commands, SMTP after the banner).
	EarlyForward
)

// String returns "wait" or "forward".
func (e Early) String() string {
	switch e {
	case EarlyWait:
		return "wait"
	case EarlyForward:
		return "forward"
	}
	return fmt.Sprintf("early(%d)", e)
}

// ParseEarly reads "wait" or "forward".
func ParseEarly(s string) (Early, error) {
	for _, e := range []Early{EarlyWait, EarlyForward} {
		if e.String() == s {
			return e, nil
		}
	}
	return 0, fmt.Errorf("relay: early data mode %q: want forward (saves the round trip; replayed SYNs reach the backend twice) or wait (safe; saves nothing on this leg)", s)
}

// Relay forwards every connection accepted by Serve to To. The zero value
// of every field except To is usable. Fields must not change while Serve
// runs. Its methods are safe for concurrent use.
type Relay struct {
	// To is the address ("host:port") every connection is forwarded to.
	To string
	// Network is the network to dial To on ("tcp", "tcp4", "tcp6");
	// empty means "tcp".
	Network string

	// Dialer dials To; nil means a zero fastopen.Dialer (TFO, cookies from
	// the kernel's cache). Set its Disable field to dial plain TCP (a
	// backend without TFO), its Control to NoCookie for a trusted link.
	Dialer *fastopen.Dialer
	// DialTimeout bounds the dial of To, handshake included; zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// DialData, if set, opens the onward connection instead of
	// Dialer.DialData, with the same contract: send data in the SYN where
	// possible and return once the handshake is over. Use it to dial from
	// elsewhere (another network namespace) or to wrap the Dialer; return
	// the *fastopen.Conn so that its TFO facts can be read.
	DialData func(ctx context.Context, network, address string, data []byte) (net.Conn, error)

	// FirstFlightWait is how long to wait for an accepted connection's
	// first bytes before dialing without them; zero means
	// DefaultFirstFlightWait, negative does not wait (the first flight is
	// what has already arrived). Bytes that arrive later are forwarded
	// after the handshake.
	FirstFlightWait time.Duration
	// FirstFlightSize is the most bytes read as the first flight (one
	// read: what the client wrote first, up to this size); zero means
	// DefaultFirstFlightSize. At most MaxFirstFlightSize.
	FirstFlightSize int

	// Early is what to do with data that came in the SYN of an accepted
	// connection: EarlyWait (the zero value) or EarlyForward.
	Early Early
	// HandshakeTimeout bounds EarlyWait's wait for the handshake; zero
	// means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// IdleTimeout closes a connection on which no data moved in either
	// direction for this long; zero means never. On Linux it is measured
	// by the kernel (TCP_INFO), so the copy keeps its zero-copy path; on
	// other platforms Serve refuses it.
	IdleTimeout time.Duration
	// MaxConns bounds the connections relayed at once; more are reset as
	// soon as they are accepted, and counted (Stats.Rejected). Zero means
	// no bound.
	MaxConns int

	// Logger receives one line per connection (addresses, bytes each way,
	// the first flight, TFO on both legs, duration, error) and warnings;
	// nil means no logging.
	Logger *slog.Logger

	stats counters

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*session]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// ErrClosed is returned by Serve after Close or Shutdown.
var ErrClosed = errors.New("relay: closed")

// check validates the configuration.
func (r *Relay) check() error {
	if r.To == "" {
		return errors.New("relay: To is empty: set the address to forward to (host:port)")
	}
	if _, _, err := net.SplitHostPort(r.To); err != nil {
		return fmt.Errorf("relay: To %q: want host:port: %w", r.To, err)
	}
	switch r.Network {
	case "", "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("relay: Network %q: want tcp, tcp4 or tcp6", r.Network)
	}
	if r.FirstFlightSize < 0 || r.FirstFlightSize > MaxFirstFlightSize {
		return fmt.Errorf("relay: FirstFlightSize %d: want 0 (default %d) to %d bytes", r.FirstFlightSize, DefaultFirstFlightSize, MaxFirstFlightSize)
	}
	if r.Early != EarlyWait && r.Early != EarlyForward {
		return fmt.Errorf("relay: Early %d: want EarlyWait or EarlyForward", r.Early)
	}
	if r.MaxConns < 0 {
		return fmt.Errorf("relay: MaxConns %d is negative: use 0 for no bound", r.MaxConns)
	}
	if r.DialTimeout < 0 || r.HandshakeTimeout < 0 || r.IdleTimeout < 0 {
		return errors.New("relay: DialTimeout, HandshakeTimeout and IdleTimeout must not be negative")
	}
	if r.IdleTimeout > 0 && !IdleTimeoutSupported {
		return fmt.Errorf("relay: IdleTimeout needs Linux (the kernel's TCP_INFO tells when data last moved): %w", errors.ErrUnsupported)
	}
	return nil
}

// Serve accepts connections on ln and relays each on its own goroutine
// until ln fails or Shutdown or Close is called; it closes ln on return.
// It returns ErrClosed after those, a configuration error at once, and otherwise
// Accept's error. Running out of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) is not a failure: Serve logs it, waits (backoff up to
// one second) and accepts again. Serve may be called on several
// listeners at once.
func (r *Relay) Serve(ln net.Listener) error {
	defer ln.Close()
	if err := r.check(); err != nil {
		return err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if r.listeners == nil {
		r.listeners = map[net.Listener]struct{}{}
		r.conns = map[*session]struct{}{}
	}
	r.listeners[ln] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.listeners, ln)
		r.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if r.isClosed() {
				return ErrClosed
			}
			if accept.Retryable(err) {
				backoff = accept.Backoff(backoff)
				r.warn("accept failed; retrying", "error", err.Error(), "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		r.stats.accepted.Add(1)
		s := &session{r: r, in: c, start: time.Now()}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		if !r.admit(s) {
			s.cancel()
			r.stats.rejected.Add(1)
			r.warn("connection refused: limit reached", "client", c.RemoteAddr().String(), "max_conns", r.MaxConns)
			reset(c)
			continue
		}
		go s.run()
	}
}

// admit registers s unless the relay is closed or at MaxConns.
func (r *Relay) admit(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.MaxConns > 0 && len(r.conns) >= r.MaxConns {
		return false
	}
	r.conns[s] = struct{}{}
	r.wg.Add(1)
	r.stats.active.Add(1)
	return true
}

func (r *Relay) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Close stops every Serve, resets every relayed connection (both legs)
// and waits until their goroutines have ended. It is idempotent.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.stopListening()
	for s := range r.conns {
		s.abort()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// Shutdown stops every Serve and lets the connections being relayed go on
// until they end by themselves or ctx is done; then it resets those left,
// as Close does, and returns ctx.Err(). It returns nil when all ended.
func (r *Relay) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.stopListening()
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.Close()
		return ctx.Err()
	}
}

// stopListening marks r closed and closes its listeners; r.mu is held.
func (r *Relay) stopListening() {
	r.closed = true
	for ln := range r.listeners {
		ln.Close()
	}
}

func (r *Relay) warn(msg string, args ...any) {
	if r.Logger != nil {
		r.Logger.Warn(msg, args...)
	}
}

// dial opens the onward connection. With the DialData hook flight is
// already sent and the handshake over; otherwise (lazy) the connection
// is the Dialer's lazy one and the caller sends flight with its first
// Write. Both put flight in the SYN when a cookie is cached; the lazy
// dial spares DialData's separate wait for the handshake (a poll round
// and its context) where the Write settles the handshake itself.
func (r *Relay) dial(ctx context.Context, flight []byte) (c net.Conn, lazy bool, err error) {
	network := r.Network
	if network == "" {
		network = "tcp"
	}
	if r.DialData != nil {
		c, err = r.DialData(ctx, network, r.To, flight)
		return c, false, err
	}
	d := r.Dialer
	if d == nil {
		d = &zeroDialer
	}
	c, err = d.DialContext(ctx, network, r.To)
	return c, true, err
}

// zeroDialer is the Dialer of a Relay whose Dialer is nil, shared so that
// a connection does not allocate one (dialing does not change it).
var zeroDialer fastopen.Dialer

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// session is one relayed connection.
type session struct {
	r     *Relay
	in    net.Conn
	start time.Time
	// ctx ends when the session is aborted: it cuts short the wait for
	// the handshake and the onward dial. Set up only: run drops it, and
	// endSetup cancels it, once the copies start, so that an idle
	// connection holds no context (with its channel and children map).
	ctx context.Context

	rec      record
	pending  atomic.Int32 // copies still running
	stopIdle func()

	mu      sync.Mutex
	cancel  context.CancelFunc // ctx's; nil once setup is over
	out     net.Conn
	aborted bool
	idle    bool // ended by IdleTimeout
}

// endSetup cancels the setup's context and forgets it; it may be called
// more than once.
func (s *session) endSetup() {
	s.mu.Lock()
	cancel := s.cancel
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// abort resets both legs (RST, so that each peer sees an error rather
// than an orderly end): used for errors, Close and the idle timeout.
func (s *session) abort() {
	s.mu.Lock()
	s.aborted = true
	out, cancel := s.out, s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	reset(s.in)
	if out != nil {
		reset(out)
	}
}

// setOut records the onward connection, unless the session was aborted
// meanwhile.
func (s *session) setOut(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return false
	}
	s.out = c
	return true
}

// record is what a session logs at its end.
type record struct {
	flight         int
	in, out        legFacts
	waited         time.Duration // EarlyWait's wait for the handshake
	up, down       int64
	upErr, downErr error
	stage          string // where it failed: handshake, read, dial, copy, idle
	err            error
}

// legFacts is what a session logs of a leg's TCP Fast Open: the few
// fields of its fastopen.Info the log shows, kept instead of the whole
// Info so that an idle connection's session stays small.
type legFacts struct {
	known    bool // InfoOf succeeded
	synData  bool
	side     fastopen.Side
	reason   fastopen.Reason
	synBytes int
	rtt      time.Duration
}

// factsOf reads c's TFO facts (fastopen.InfoOf).
func factsOf(c net.Conn) legFacts {
	inf, err := fastopen.InfoOf(c)
	if err != nil {
		return legFacts{}
	}
	return legFacts{known: true, synData: inf.SYNData, side: inf.Side, reason: inf.Reason, synBytes: inf.SYNBytes, rtt: inf.RTT}
}

// run sets the session up (handshake guard, first flight, dial) and
// starts the copies, one goroutine per direction; it returns without
// waiting, so that an idle connection holds only those two goroutines,
// whose stacks stay small. The copy that ends last calls finish.
func (s *session) run() {
	r := s.r
	rec := &s.rec

	// The incoming leg's TFO facts are read now: SYNBytes is measurable
	// only before anything but the SYN has arrived.
	rec.in = factsOf(s.in)
	if rec.in.synData {
		r.stats.inSYNData.Add(1)
		r.stats.inSYNBytes.Add(uint64(rec.in.synBytes))
		if r.Early == EarlyWait {
			t := time.Now()
			ctx, cancel := context.WithTimeout(s.ctx, orDefault(r.HandshakeTimeout, DefaultHandshakeTimeout))
			err := fastopen.Handshake(ctx, s.in)
			cancel()
			rec.waited = time.Since(t)
			if err != nil {
				r.stats.unconfirmed.Add(1)
				s.fail("handshake", fmt.Errorf("SYN data not forwarded: the client did not complete the handshake (replayed SYN?): %w", err))
				return
			}
		}
	}

	buf := flightBuffers.Get().(*[]byte)
	defer flightBuffers.Put(buf)
	flight, eof, err := s.readFirstFlight((*buf)[:orDefault(r.FirstFlightSize, DefaultFirstFlightSize)])
	rec.flight = len(flight)
	if err != nil {
		r.stats.readErrors.Add(1)
		s.fail("read", err)
		return
	}

	ctx, cancel := context.WithTimeout(s.ctx, orDefault(r.DialTimeout, DefaultDialTimeout))
	out, lazy, err := r.dial(ctx, flight)
	cancel()
	if err == nil && !s.setOut(out) {
		reset(out)
		err = ErrClosed
	}
	if err == nil && lazy {
		// The Write sends the SYN with the flight (or, without a cookie,
		// follows the handshake connect already made) and, the dial
		// being bounded, returns once the handshake is over: a refused
		// or unreachable far end fails it. abort resets out meanwhile.
		if _, err = out.Write(flight); err != nil {
			reset(out)
		}
	}
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			r.stats.dialErrors.Add(1)
		}
		s.fail("dial", err)
		return
	}
	r.stats.dialed.Add(1)
	rec.out = factsOf(out)
	if rec.out.synData {
		r.stats.outSYNData.Add(1)
		r.stats.outSYNBytes.Add(uint64(len(flight)))
	}
	rec.up = int64(len(flight))
	r.stats.bytesUp.Add(uint64(len(flight)))
	s.ctx = nil
	s.endSetup()

	// From here on both legs are established TCP connections: copy on
	// the sockets themselves so that io.Copy reaches splice(2).
	in, outc := tcpConnOf(s.in), tcpConnOf(out)
	if r.IdleTimeout > 0 {
		s.stopIdle = s.watchIdle(in, outc)
	}
	if eof {
		closeWrite(outc)
		s.pending.Store(1)
	} else {
		s.pending.Store(2)
		go s.copy(outc, in, &rec.up, &rec.upErr, &r.stats.bytesUp)
	}
	go s.copy(in, outc, &rec.down, &rec.downErr, &r.stats.bytesDown)
}

// copy is one direction of a session: it copies src to dst, adds what it
// copied to *n and to total, and then passes the EOF on or, on an error
// (kept in *errp), aborts the session.
func (s *session) copy(dst, src net.Conn, n *int64, errp *error, total *atomic.Uint64) {
	c, err := io.Copy(dst, src)
	*n += c
	total.Add(uint64(c))
	if err != nil {
		*errp = err
		s.abort()
	} else {
		s.passEOF(dst)
	}
	s.copyDone()
}

// flightBuffers holds first-flight buffers of MaxFirstFlightSize bytes,
// used only until the onward dial returns.
var flightBuffers = sync.Pool{New: func() any { b := make([]byte, MaxFirstFlightSize); return &b }}

// fail ends a session that did not get to copying.
func (s *session) fail(stage string, err error) {
	s.rec.stage, s.rec.err = stage, err
	s.abort()
	s.finish()
}

// passEOF passes a copy's EOF on to c as a half-close, unless the other
// direction has ended already: finish then closes both legs at once, and
// that close sends the FIN (its socket has nothing unread: the other copy
// read it to EOF, or reset it). One shutdown(2) fewer per connection.
func (s *session) passEOF(c net.Conn) {
	if s.pending.Load() > 1 {
		closeWrite(c)
	}
}

// copyDone is called by each copy as it ends; the last one finishes the
// session. The atomic counter orders both copies' writes to rec before
// finish reads them.
func (s *session) copyDone() {
	if s.pending.Add(-1) == 0 {
		s.finish()
	}
}

// finish closes both legs, logs the session and releases its place.
func (s *session) finish() {
	r, rec := s.r, &s.rec
	if s.stopIdle != nil {
		s.stopIdle()
	}
	s.in.Close()
	s.mu.Lock()
	out, idle, aborted := s.out, s.idle, s.aborted
	s.mu.Unlock()
	if out != nil {
		out.Close()
	}
	s.endSetup()
	if rec.err == nil {
		switch {
		case idle:
			rec.stage, rec.err = "idle", fmt.Errorf("no data in either direction for %v (IdleTimeout)", r.IdleTimeout)
		case rec.upErr != nil || rec.downErr != nil:
			r.stats.copyErrors.Add(1)
			rec.stage, rec.err = "copy", errors.Join(rec.upErr, rec.downErr)
		case aborted && r.isClosed():
			rec.stage, rec.err = "copy", ErrClosed
		}
	}
	s.log(rec)
	r.mu.Lock()
	delete(r.conns, s)
	r.mu.Unlock()
	r.stats.active.Add(-1)
	r.wg.Done()
}

// readFirstFlight reads what the client sends first, waiting at most
// FirstFlightWait, into buf; eof reports that the client closed its side (or the
// connection) without sending more.
func (s *session) readFirstFlight(buf []byte) (flight []byte, eof bool, err error) {
	// A local program's request usually follows its handshake at once
	// and is there already: read it without arming a deadline (a timer,
	// and often a wake-up of the netpoller for it).
	if n, ok, err := readNow(s.in, buf); ok {
		return buf[:n], n == 0 && err == nil, err
	}
	wait := orDefault(s.r.FirstFlightWait, DefaultFirstFlightWait)
	if wait < 0 {
		wait = 0
	}
	if err := s.in.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, false, err
	}
	n, err := s.in.Read(buf)
	if derr := s.in.SetReadDeadline(time.Time{}); derr != nil && err == nil {
		err = derr
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		return buf[:n], true, nil
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		err = nil
	}
	return buf[:n], false, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tcpConnOf returns the *net.TCPConn under c once its handshake is over
// (a *fastopen.ServerConn's embedded one, a *fastopen.Conn's NetConn), so
// that io.Copy between two of them uses splice(2) on Linux; c itself for
// other connections (never the socket under a wrapper such as a
// *tls.Conn, whose bytes are not the stream's).
func tcpConnOf(c net.Conn) net.Conn {
	switch v := c.(type) {
	case *fastopen.ServerConn:
		return v.TCPConn
	case *fastopen.Conn:
		return v.NetConn()
	}
	return c
}

// closeWrite passes a half-close on: the peer reads EOF and may go on
// sending.
func closeWrite(c net.Conn) {
	if cw, ok := tcpConnOf(c).(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// reset closes c with a RST (SO_LINGER 0), so that its peer sees an
// error (ECONNRESET) rather than an orderly end that would look like an
// empty answer.
func reset(c net.Conn) {
	if tc, ok := tcpConnOf(c).(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func (s *session) log(rec *record) {
	l := s.r.Logger
	if l == nil {
		return
	}
	attrs := []any{
		slog.String("client", s.in.RemoteAddr().String()),
		slog.String("to", s.r.To),
		slog.Int("first_flight", rec.flight),
		slog.Int64("bytes_up", rec.up),
		slog.Int64("bytes_down", rec.down),
	}
	if rec.in.known {
		g := []any{slog.Bool("syn_data", rec.in.synData)}
		if rec.in.synData {
			g = append(g, slog.Int("syn_bytes", rec.in.synBytes))
		}
		attrs = append(attrs, slog.Group("in", g...))
	}
	if rec.waited > 0 {
		attrs = append(attrs, slog.Duration("handshake_wait", rec.waited))
	}
	if rec.out.known && rec.out.side != fastopen.SideUnknown {
		g := []any{slog.Bool("syn_data", rec.out.synData)}
		if !rec.out.synData {
			g = append(g, slog.String("reason", rec.out.reason.Code()))
		}
		g = append(g, slog.Duration("rtt", rec.out.rtt))
		attrs = append(attrs, slog.Group("out", g...))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(s.start)))
	if rec.err != nil {
		attrs = append(attrs, slog.String("stage", rec.stage), slog.String("error", rec.err.Error()))
		l.Warn("connection", attrs...)
		return
	}
	l.Info("connection", attrs...)
}
