package kernel

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// netstatPath is read through thread-self so that a thread that entered
// another network namespace (setns) sees that namespace's counters:
// /proc/self/net follows the process's main thread instead.
const netstatPath = "/proc/thread-self/net/netstat"

// Counters maps "TcpExt.TCPFastOpenActive"-style names to values.
type Counters map[string]uint64

// ReadCounters reads every counter of /proc/net/netstat for the calling
// thread's network namespace, keyed "Section.Name" (e.g.
// "TcpExt.TCPFastOpenPassive"). It needs no privileges. A file that does
// not parse is an error naming the line.
func ReadCounters() (Counters, error) {
	f, err := os.Open(netstatPath)
	if err != nil {
		return nil, fmt.Errorf("read TCP counters: %w", err)
	}
	defer f.Close()
	return parseNetstat(f)
}

// parseNetstat parses the pairs of header and value lines of
// /proc/net/netstat.
func parseNetstat(r io.Reader) (Counters, error) {
	c := Counters{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		names := strings.Fields(sc.Text())
		if len(names) == 0 {
			continue // blank line
		}
		if !sc.Scan() {
			return nil, fmt.Errorf("%s: header line %q has no value line", netstatPath, names[0])
		}
		values := strings.Fields(sc.Text())
		if len(names) != len(values) || len(names) == 0 {
			return nil, fmt.Errorf("%s: malformed section %q", netstatPath, names)
		}
		section := strings.TrimSuffix(names[0], ":")
		for i := 1; i < len(names); i++ {
			v, err := strconv.ParseUint(values[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %s.%s=%q: %w", netstatPath, section, names[i], values[i], err)
			}
			c[section+"."+names[i]] = v
		}
	}
	return c, sc.Err()
}

// FastOpen returns only the TcpExt.TCPFastOpen* counters, keyed by their
// short name ("TCPFastOpenActive").
func (c Counters) FastOpen() map[string]uint64 {
	m := map[string]uint64{}
	for k, v := range c {
		if name, ok := strings.CutPrefix(k, "TcpExt."); ok && strings.HasPrefix(name, "TCPFastOpen") {
			m[name] = v
		}
	}
	return m
}

// Sub returns c minus an earlier snapshot, counter by counter (a counter
// missing from earlier counts from 0).
func (c Counters) Sub(earlier Counters) Counters {
	d := Counters{}
	for k, v := range c {
		d[k] = v - earlier[k]
	}
	return d
}

// CounterFile reads the counters of the network namespace it was opened
// in, whichever thread reads it later. Linux binds a /proc/thread-self/net
// file to the namespace of the thread that opened it, so a CounterFile
// opened inside a namespace (lab.Host.Run, a server's setup) can be read
// from any goroutine, e.g. an HTTP handler serving metrics.
type CounterFile struct {
	mu sync.Mutex
	f  *os.File
}

// OpenCounters opens the counters of the calling thread's namespace;
// Close releases them.
func OpenCounters() (*CounterFile, error) {
	f, err := os.Open(netstatPath)
	if err != nil {
		return nil, fmt.Errorf("open TCP counters: %w", err)
	}
	return &CounterFile{f: f}, nil
}

// Read returns the current counters. It is safe for concurrent use.
func (cf *CounterFile) Read() (Counters, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if _, err := cf.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind TCP counters: %w", err)
	}
	return parseNetstat(cf.f)
}

// Close releases the file (and with it the namespace reference).
func (cf *CounterFile) Close() error { return cf.f.Close() }
