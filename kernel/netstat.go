package kernel

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// netstatPath is read through thread-self so that a thread that entered
// another network namespace (setns) sees that namespace's counters:
// /proc/self/net follows the process's main thread instead.
const netstatPath = "/proc/thread-self/net/netstat"

// Counters maps "TcpExt.TCPFastOpenActive"-style names to values.
type Counters map[string]uint64

// ReadCounters reads every counter of /proc/net/netstat for the calling
// thread's network namespace, keyed "Section.Name" (e.g.
// "TcpExt.TCPFastOpenPassive").
func ReadCounters() (Counters, error) {
	f, err := os.Open(netstatPath)
	if err != nil {
		return nil, fmt.Errorf("read TCP counters: %w", err)
	}
	defer f.Close()
	c := Counters{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		names := strings.Fields(sc.Text())
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

// Sub returns c minus an earlier snapshot, counter by counter.
func (c Counters) Sub(earlier Counters) Counters {
	d := Counters{}
	for k, v := range c {
		d[k] = v - earlier[k]
	}
	return d
}
