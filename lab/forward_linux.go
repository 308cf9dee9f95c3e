package lab

import (
	"container/heap"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// packet is a buffer in flight. Buffers are recycled through the pipe's
// free list: the hot path does not allocate once the list is warm.
type packet struct {
	buf []byte
	n   int
	due time.Duration // since pipe.epoch
	seq uint64        // arrival order, breaks ties in the heap
}

// pktHeap orders packets by due time, then arrival.
type pktHeap []*packet

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	return h[i].due < h[j].due || h[i].due == h[j].due && h[i].seq < h[j].seq
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(*packet)) }
func (h *pktHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

// ruleState is a fault rule with its counters, shared by both pipes.
type ruleState struct {
	Rule
	hits atomic.Uint64
	seen atomic.Uint64 // matching packets so far (Blackhole)
	off  atomic.Bool   // switched off by Lab.SetFaultActive
}

// dirCounters are a pipe's counters.
type dirCounters struct {
	packets, bytes, delivered, lost, droppedNth, faultDrops, queueDrops, duplicated atomic.Uint64
}

// pipe forwards one direction of the link: a reader goroutine takes
// packets from the sending host's TUN device, applies loss and faults and
// schedules them; a writer goroutine on a locked OS thread delivers each
// to the receiving host's TUN device at its due time (sleep, then spin).
type pipe struct {
	dir      Dir
	cfg      LinkConfig
	inFd     int
	outFd    int
	stopFd   int // eventfd that wakes the reader and the writer on close
	wakeFd   int // eventfd that wakes the writer when a packet jumps the queue
	realtime bool
	rules    []*ruleState
	rng      *rand.Rand
	epoch    time.Time
	spin     time.Duration
	bufSize  int
	dropNth  []uint64
	counters dirCounters
	lat      histogram

	mu      sync.Mutex
	queue   pktHeap
	free    []*packet
	busy    bool // the writer holds a packet outside the queue
	seq     uint64
	lastDue time.Duration
	txEnd   time.Duration

	notify chan struct{}
	stop   chan struct{}
}

// realtimePriority is the SCHED_FIFO priority of the forwarder's threads:
// low among real-time priorities, above every normal process.
const realtimePriority = 10

func newPipe(dir Dir, cfg LinkConfig, in, out, stop, wake int, realtime bool, rules []*ruleState, seed uint64, epoch time.Time, spin time.Duration, mtu int) *pipe {
	p := &pipe{
		dir: dir, cfg: cfg, inFd: in, outFd: out, stopFd: stop, wakeFd: wake, realtime: realtime, rules: rules,
		rng:     rand.New(rand.NewPCG(seed, uint64(dir))),
		epoch:   epoch,
		spin:    spin,
		bufSize: mtu,
		queue:   make(pktHeap, 0, cfg.QueueLimit),
		notify:  make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}
	for _, n := range cfg.DropNth {
		p.dropNth = append(p.dropNth, uint64(n))
	}
	slices.Sort(p.dropNth)
	return p
}

func (p *pipe) now() time.Duration { return time.Since(p.epoch) }

func (p *pipe) get() *packet {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		pk := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return pk
	}
	p.mu.Unlock()
	return &packet{buf: make([]byte, p.bufSize)}
}

func (p *pipe) put(pk *packet) {
	p.mu.Lock()
	p.free = append(p.free, pk)
	p.mu.Unlock()
}

// read is the reader goroutine: it polls the sending host's TUN device
// and reads every packet waiting (a batch) before polling again.
func (p *pipe) read() {
	p.dedicateThread()
	fds := []unix.PollFd{{Fd: int32(p.inFd), Events: unix.POLLIN}, {Fd: int32(p.stopFd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			return
		}
		if fds[1].Revents != 0 || fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			return
		}
		for {
			pk := p.get()
			n, err := unix.Read(p.inFd, pk.buf)
			if err != nil || n <= 0 {
				p.put(pk)
				break
			}
			pk.n = n
			p.handle(pk, p.now())
		}
	}
}

// dedicateThread locks the goroutine to its OS thread for good (the
// runtime discards the thread when the goroutine ends, so the settings
// below never leak to other goroutines), gives it a 1ns timer slack
// (the default 50µs would make every wake-up late) and, when allowed,
// real-time priority so that other busy processes delay it less.
func (p *pipe) dedicateThread() {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	if p.realtime {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: realtimePriority}
		_ = unix.SchedSetAttr(0, &attr, 0)
	}
}

// handle applies the link's loss and faults to a packet read at now and
// schedules it.
func (p *pipe) handle(pk *packet, now time.Duration) {
	c := &p.counters
	num := c.packets.Add(1)
	c.bytes.Add(uint64(pk.n))
	if _, found := slices.BinarySearch(p.dropNth, num); found {
		c.droppedNth.Add(1)
		p.put(pk)
		return
	}
	if p.cfg.Loss > 0 && p.rng.Float64() < p.cfg.Loss {
		c.lost.Add(1)
		p.put(pk)
		return
	}
	dup := time.Duration(-1)
	if len(p.rules) > 0 {
		seg := parseSegment(pk.buf[:pk.n])
		for _, r := range p.rules {
			if r.off.Load() || r.Dir != Both && r.Dir != p.dir || !r.Match.matches(&seg) {
				continue
			}
			switch r.Action {
			case Drop:
				r.hits.Add(1)
				c.faultDrops.Add(1)
				p.put(pk)
				return
			case Blackhole:
				if r.seen.Add(1) > uint64(r.After) {
					r.hits.Add(1)
					c.faultDrops.Add(1)
					p.put(pk)
					return
				}
			case StripFastOpen:
				if stripFastOpen(pk.buf[:pk.n]) {
					r.hits.Add(1)
					seg = parseSegment(pk.buf[:pk.n])
				}
			case Duplicate:
				r.hits.Add(1)
				dup = r.Delay
			}
		}
	}
	if dup < 0 && p.cfg.Duplicate > 0 && p.rng.Float64() < p.cfg.Duplicate {
		dup = p.cfg.DupDelay
	}

	due := now + p.cfg.Delay
	if p.cfg.Rate > 0 {
		start := max(now, p.txEnd)
		p.txEnd = start + time.Duration(int64(pk.n)*8*int64(time.Second)/p.cfg.Rate)
		due = p.txEnd + p.cfg.Delay
	}
	if p.cfg.Jitter > 0 {
		due += time.Duration(p.rng.Int64N(int64(2*p.cfg.Jitter)+1)) - p.cfg.Jitter
		due = max(due, now)
	}
	if !p.cfg.Reorder {
		due = max(due, p.lastDue)
		p.lastDue = due
	}

	var copyPk *packet
	if dup >= 0 {
		copyPk = p.get()
		copyPk.n = copy(copyPk.buf, pk.buf[:pk.n])
		copyPk.due = due + dup
		c.duplicated.Add(1)
	}
	pk.due = due

	p.mu.Lock()
	if due <= now && len(p.queue) == 0 && !p.busy && copyPk == nil {
		// Nothing waits and nothing is due later: deliver at once from
		// this goroutine (the zero-delay fast path).
		p.mu.Unlock()
		p.deliver(pk)
		return
	}
	jumped := false // a packet now heads a queue the writer was waiting on
	for _, q := range []*packet{pk, copyPk} {
		if q == nil {
			continue
		}
		if len(p.queue) >= p.cfg.QueueLimit {
			c.queueDrops.Add(1)
			p.free = append(p.free, q)
			continue
		}
		p.seq++
		q.seq = p.seq
		waiting := len(p.queue) > 0
		heap.Push(&p.queue, q)
		jumped = jumped || waiting && p.queue[0] == q
	}
	p.mu.Unlock()
	if jumped {
		// The writer sleeps until the old head's due time: wake it so
		// that it waits for the new head instead.
		signal(p.wakeFd)
	}
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// signal adds 1 to an eventfd's counter, making it readable.
func signal(fd int) {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(fd, one[:])
}

// deliver writes a packet to the receiving host and records its lateness.
func (p *pipe) deliver(pk *packet) {
	if _, err := unix.Write(p.outFd, pk.buf[:pk.n]); err == nil {
		p.counters.delivered.Add(1)
	}
	p.lat.add(p.now() - pk.due)
	p.put(pk)
}

// write is the writer goroutine.
func (p *pipe) write() {
	p.dedicateThread()

	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.busy = false
			p.mu.Unlock()
			select {
			case <-p.notify:
				continue
			case <-p.stop:
				return
			}
		}
		head := p.queue[0]
		wait := head.due - p.now()
		if wait > p.spin {
			p.mu.Unlock()
			if p.sleep(wait - p.spin) {
				return
			}
			continue
		}
		heap.Pop(&p.queue)
		p.busy = true
		p.mu.Unlock()
		for p.now() < head.due {
			// spin for the last stretch
		}
		p.deliver(head)
	}
}

// sleep blocks the writer's thread for d (with the thread's timer slack,
// as exact as nanosleep), or until a packet jumps the queue or the pipe
// is closed. It reports whether the pipe is closed.
func (p *pipe) sleep(d time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(p.wakeFd), Events: unix.POLLIN}, {Fd: int32(p.stopFd), Events: unix.POLLIN}}
	ts := unix.NsecToTimespec(int64(d))
	if _, err := unix.Ppoll(fds, &ts, nil); err != nil && err != unix.EINTR {
		// Cannot happen with valid descriptors; never spin on it.
		_ = unix.Nanosleep(&ts, nil)
	}
	if fds[0].Revents&unix.POLLIN != 0 {
		var count [8]byte
		_, _ = unix.Read(p.wakeFd, count[:]) // reset the counter
	}
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// close stops the goroutines; the caller waits for them, then closes the
// files. The stop eventfd stays readable, so it wakes both the reader's
// poll and the writer's sleep.
func (p *pipe) close() {
	close(p.stop)
	signal(p.stopFd)
}

func (p *pipe) stats() DirStats {
	c := &p.counters
	return DirStats{
		Packets: c.packets.Load(), Bytes: c.bytes.Load(), Delivered: c.delivered.Load(),
		Lost: c.lost.Load(), DroppedNth: c.droppedNth.Load(), FaultDrops: c.faultDrops.Load(),
		QueueDrops: c.queueDrops.Load(), Duplicated: c.duplicated.Load(),
		Lateness: p.lat.summary(),
	}
}
