package trace

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Options configures a live capture.
type Options struct {
	// Interface is the network interface to capture on ("lo", a veth, a
	// TUN device); required. It is looked up in the network namespace of
	// the thread that calls Start: to capture inside a lab host, call
	// Start from Host.Run.
	Interface string
	// Port, when non-zero, keeps only segments to or from this TCP port
	// (0 to 65535).
	Port int
	// Host, when valid, keeps only segments to or from this address.
	Host netip.Addr
	// Snaplen is the most bytes kept per packet (DefaultSnaplen if zero;
	// negative is an error). Payload lengths stay right when packets are
	// cut.
	Snaplen int
	// RTT, when positive, is the known round-trip time used to express
	// delays in RTTs; zero estimates it per connection from the handshake.
	RTT time.Duration
	// Count, when positive, ends the capture after this many segments
	// (undecodable frames included); Done is then closed.
	Count int
	// Pcap, when set, receives every kept packet as a capture file; it is
	// flushed when the capture ends, and a write error ends the capture
	// (Stop returns it).
	Pcap io.Writer
	// Format is the format written to Pcap.
	Format Format
	// OnEvent, when set, is called from the capture goroutine for every
	// event as it is decoded. It must not block for long: the kernel drops
	// packets (Stats.Dropped) while the ring is full.
	OnEvent func(Event)
	// DiscardEvents stops the capture from keeping events in memory
	// (Events then returns none); use it for long captures that consume
	// events through OnEvent.
	DiscardEvents bool
	// MaxFlows bounds the connections kept for Flows (see
	// Tracker.MaxFlows; DefaultMaxFlows if zero).
	MaxFlows int
}

// Stats counts what a capture saw.
type Stats struct {
	// Packets is the number of segments decoded into events.
	Packets int `json:"packets"`
	// Undecodable is the number of kept frames that failed to decode.
	Undecodable int `json:"undecodable"`
	// Dropped is the number of packets the kernel dropped because the
	// capture ring was full.
	Dropped int `json:"dropped"`
	// FlowsForgotten is the number of connections left out of Flows to
	// stay within Options.MaxFlows.
	FlowsForgotten int `json:"flows_forgotten"`
}

// source is a live packet source: an AF_PACKET ring on Linux.
type source interface {
	// ReadPacketData returns the next packet, errTimeout when none came
	// within the poll interval.
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	// Dropped returns the kernel's drop count.
	Dropped() int
	Close()
}

var errTimeout = errors.New("poll timeout")

// stopDrain bounds how long Stop keeps reading packets that were already
// captured when it was called.
const stopDrain = 500 * time.Millisecond

// Capture is a running live capture. Its methods are safe for concurrent
// use.
type Capture struct {
	opts     Options
	filter   Filter
	linkType layers.LinkType
	src      source
	pcap     *Writer

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	tracker *Tracker
	events  []Event
	stats   Stats
	err     error
}

// Start opens a capture on opts.Interface in the calling thread's network
// namespace and begins decoding in a goroutine; end it with Stop. Only TCP
// segments matching the port and host filter are copied out of the
// kernel. It fails with an error wrapping sysctl.ErrPrivilege without
// root / CAP_NET_RAW, with a message saying what to do for an interface
// that does not exist or is down, and for invalid Options. Off Linux it
// fails with an error matching errors.ErrUnsupported.
func Start(opts Options) (*Capture, error) {
	if opts.Interface == "" {
		return nil, errors.New("trace: no interface given (e.g. lo)")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("trace: port %d out of range 0-65535", opts.Port)
	}
	if opts.Snaplen < 0 {
		return nil, fmt.Errorf("trace: snap length %d is negative", opts.Snaplen)
	}
	if opts.Snaplen == 0 {
		opts.Snaplen = DefaultSnaplen
	}
	f := Filter{Port: uint16(opts.Port), Host: opts.Host}
	src, lt, err := openSource(opts.Interface, f, opts.Snaplen)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	c := &Capture{
		opts: opts, filter: f, linkType: lt, src: src,
		stop: make(chan struct{}), done: make(chan struct{}),
		tracker: NewTracker(opts.RTT),
	}
	c.tracker.MaxFlows = opts.MaxFlows
	if opts.Pcap != nil {
		if c.pcap, err = NewWriter(opts.Pcap, opts.Format, lt, opts.Snaplen); err != nil {
			src.Close()
			return nil, fmt.Errorf("trace: %w", err)
		}
	}
	go c.run()
	return c, nil
}

// LinkType is the link type of the captured frames: Ethernet for lo and
// veth, raw IP for a TUN device.
func (c *Capture) LinkType() layers.LinkType { return c.linkType }

// Filter is the filter in effect.
func (c *Capture) Filter() Filter { return c.filter }

// Done is closed when the capture has ended: Count was reached, reading
// or writing the capture file failed, or Stop was called. Call Stop to
// learn the error.
func (c *Capture) Done() <-chan struct{} { return c.done }

// Events returns the events decoded so far (none with DiscardEvents).
func (c *Capture) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// Flows returns the per-connection summaries so far.
func (c *Capture) Flows() []Flow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracker.Flows()
}

// Stats returns the capture's counters.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.FlowsForgotten = c.tracker.Forgotten()
	return st
}

// Stop ends the capture after decoding the packets the kernel already
// captured (for at most half a second), closes the socket, flushes the
// capture file, and returns the per-connection summaries. The error is the
// first failure to read packets or to write the capture file, if any. It
// may be called more than once.
func (c *Capture) Stop() ([]Flow, error) {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracker.Flows(), c.err
}

func (c *Capture) run() {
	defer close(c.done)
	defer c.src.Close()
	var drainUntil time.Time
	for {
		select {
		case <-c.stop:
			if drainUntil.IsZero() {
				drainUntil = time.Now().Add(stopDrain)
			}
		default:
		}
		if !drainUntil.IsZero() && time.Now().After(drainUntil) {
			break
		}
		frame, ci, err := c.src.ReadPacketData()
		if err == errTimeout {
			if !drainUntil.IsZero() {
				break
			}
			continue
		}
		if err != nil {
			c.fail(fmt.Errorf("trace: read packet: %w", err))
			break
		}
		if c.handle(frame, ci) {
			break
		}
	}
	c.mu.Lock()
	c.stats.Dropped = c.src.Dropped()
	c.mu.Unlock()
	if c.pcap != nil {
		if err := c.pcap.Flush(); err != nil {
			c.fail(fmt.Errorf("trace: write capture file: %w", err))
		}
	}
}

// handle decodes one frame; it reports whether the capture is complete.
func (c *Capture) handle(frame []byte, ci gopacket.CaptureInfo) bool {
	c.mu.Lock()
	ev, ok := decodeEvent(c.tracker, c.filter, ci.Timestamp, frame, c.linkType)
	if !ok {
		c.mu.Unlock()
		return false
	}
	if ev.Err != "" {
		c.stats.Undecodable++
	} else {
		c.stats.Packets++
	}
	if !c.opts.DiscardEvents {
		c.events = append(c.events, ev)
	}
	full := c.opts.Count > 0 && c.stats.Packets+c.stats.Undecodable >= c.opts.Count
	c.mu.Unlock()
	if c.pcap != nil {
		if err := c.pcap.WritePacket(ci, frame); err != nil {
			c.fail(fmt.Errorf("trace: write capture file: %w", err))
			return true
		}
	}
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(ev)
	}
	return full
}

func (c *Capture) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}
