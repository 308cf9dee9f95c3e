package relay_test

// Benchmarks of the relay against the proxies a user would pick instead,
// each run as its own process on the same path:
//
//	go test -run '^$' -bench . -benchtime 5x ./relay
//
// BenchmarkThroughput: bulk bytes through one proxy hop, on a namespace's
// loopback and across the lab's zero-delay link. BenchmarkConnRate:
// connect, 6-byte request, echo, close. BenchmarkIdleConn: memory per idle
// relayed connection. BenchmarkHAProxyTFO: HTTP requests across a 50 ms
// link with HAProxy's `server ... tfo` vs the fastopen relay in front of
// the same far relay and nginx without TFO.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastopen/fastopen/bench"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/lab"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// fastopenBinary builds cmd/fastopen once per test binary.
func fastopenBinary(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fastopen-relay-bench-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fastopen")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/fastopen").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build fastopen: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binPath
}

// proxy is one way of forwarding listen → to, as a process in a host.
type proxy struct {
	name string
	// start runs the proxy in h, listening on listen and forwarding to
	// to; it returns once it accepts connections.
	start func(b *testing.B, h *lab.Host, listen, to string) *exec.Cmd
}

// startCmd starts name args in h, stopped when the benchmark ends.
func startCmd(b *testing.B, h *lab.Host, listen string, name string, args ...string) *exec.Cmd {
	b.Helper()
	c := h.Command(name, args...)
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Process.Signal(os.Interrupt)
		c.Wait()
		if b.Failed() {
			b.Logf("%s: %s", name, stderr.String())
		}
	})
	labtest.WaitAccepting(b, h, listen, nil, name, nil)
	return c.Cmd
}

func haproxyConfig(b *testing.B, listen, to, serverOpts, extra string) string {
	dir := b.TempDir()
	conf := filepath.Join(dir, "haproxy.cfg")
	text := fmt.Sprintf(`global
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
%s
frontend in
    bind %s
    default_backend out
backend out
    server s1 %s %s
`, extra, listen, to, serverOpts)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	return conf
}

var (
	relayProxy = proxy{"fastopen-relay", func(b *testing.B, h *lab.Host, listen, to string) *exec.Cmd {
		return startCmd(b, h, listen, fastopenBinary(b), "relay", "--listen", listen, "--to", to, "--tfo", "dial", "--max-conns", "4000")
	}}
	haproxyProxy = proxy{"haproxy", func(b *testing.B, h *lab.Host, listen, to string) *exec.Cmd {
		return startCmd(b, h, listen, labtest.NeedCommand(b, "haproxy"), "-db", "-f", haproxyConfig(b, listen, to, "", ""))
	}}
	haproxySpliceProxy = proxy{"haproxy-splice", func(b *testing.B, h *lab.Host, listen, to string) *exec.Cmd {
		return startCmd(b, h, listen, labtest.NeedCommand(b, "haproxy"), "-db", "-f", haproxyConfig(b, listen, to, "", "    option splice-auto"))
	}}
	socatProxy = proxy{"socat", func(b *testing.B, h *lab.Host, listen, to string) *exec.Cmd {
		ap := netip.MustParseAddrPort(listen)
		return startCmd(b, h, listen, labtest.NeedCommand(b, "socat"),
			fmt.Sprintf("TCP-LISTEN:%d,bind=%s,reuseaddr,fork,backlog=1024", ap.Port(), ap.Addr()), "TCP:"+to)
	}}
	proxies = []proxy{relayProxy, haproxyProxy, haproxySpliceProxy, socatProxy}
)

// directAndProxies runs run as a sub-benchmark on target itself, then on
// each of the proxies, started in h on 127.0.0.1 from port on and
// forwarding to target.
func directAndProxies(b *testing.B, h *lab.Host, port int, target string, run func(b *testing.B, addr string)) {
	b.Run("direct", func(b *testing.B) { run(b, target) })
	for i, p := range proxies {
		b.Run(p.name, func(b *testing.B) {
			listen := "127.0.0.1:" + strconv.Itoa(port+i)
			p.start(b, h, listen, target)
			run(b, listen)
		})
	}
}

// sink accepts connections in h on addr, reads each to EOF and answers
// with one byte: a transfer is over when that byte arrives.
func sink(b *testing.B, h *lab.Host, addr string) {
	backend(b, h, addr, func(c net.Conn) {
		io.Copy(io.Discard, c)
		c.Write([]byte{1})
	})
}

// BenchmarkThroughput sends 256 MiB per operation through one hop.
func BenchmarkThroughput(b *testing.B) {
	const size = 256 << 20
	for _, where := range []string{"loopback", "link"} {
		b.Run(where, func(b *testing.B) {
			var client, server *lab.Host
			var target string
			if where == "loopback" {
				client = labtest.Host(b, "bench", 3)
				server = client
				target = "127.0.0.1:5001"
			} else {
				l := labtest.Lab(b, lab.Config{})
				client, server = l.Client, l.Server
				target = netip.AddrPortFrom(l.ServerAddr(false), 5001).String()
			}
			sink(b, server, target)
			run := func(b *testing.B, addr string) {
				buf := make([]byte, 1<<20)
				b.SetBytes(size)
				b.ResetTimer()
				for range b.N {
					c := labtest.Dial(b, client, &net.Dialer{}, "tcp4", addr).(*net.TCPConn)
					for sent := 0; sent < size; sent += len(buf) {
						if _, err := c.Write(buf); err != nil {
							b.Fatal(err)
						}
					}
					c.CloseWrite()
					if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
						b.Fatal(err)
					}
					c.Close()
				}
			}
			directAndProxies(b, client, 6001, target, run)
		})
	}
}

// BenchmarkConnRate: one operation is a connection through the proxy on
// a namespace's loopback: connect, 6-byte request, echo, close.
func BenchmarkConnRate(b *testing.B) {
	h := labtest.Host(b, "bench", 3)
	const target = "127.0.0.1:5002"
	backend(b, h, target, func(c net.Conn) {
		buf := make([]byte, 16)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
	})
	run := func(b *testing.B, addr string) {
		b.ResetTimer()
		start := time.Now()
		buf := make([]byte, 16)
		for range b.N {
			var c net.Conn
			labtest.Run(b, h, func() (err error) { c, err = net.Dial("tcp4", addr); return err })
			c.Write([]byte("hello!"))
			if _, err := io.ReadFull(c, buf[:6]); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conn/s")
	}
	directAndProxies(b, h, 6101, target, run)
}

// rss is the resident memory of pid and its children (socat forks one
// process per connection), from /proc.
func rss(b *testing.B, pid int) int64 {
	var total int64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var ppid int
		var kb int64
		sc := bufio.NewScanner(strings.NewReader(string(status)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) >= 2 && f[0] == "PPid:":
				ppid, _ = strconv.Atoi(f[1])
			case len(f) >= 2 && f[0] == "VmRSS:":
				kb, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
		if p == pid || ppid == pid {
			total += kb << 10
		}
	}
	return total
}

// BenchmarkIdleConn measures the proxy's resident memory per idle
// connection: 1000 connections, each with one request and answer
// relayed, then left open. The metric is the growth of the proxy's RSS
// (and its children's) divided by 1000, in the first round (a fresh
// proxy); run it with -benchtime 1x.
func BenchmarkIdleConn(b *testing.B) {
	const n = 1000
	h := labtest.Host(b, "bench", 3)
	const target = "127.0.0.1:5003"
	backend(b, h, target, func(c net.Conn) {
		buf := make([]byte, 16)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
		io.Copy(io.Discard, c) // stay open until the client closes
	})
	for i, p := range proxies {
		b.Run(p.name, func(b *testing.B) {
			listen := "127.0.0.1:" + strconv.Itoa(6201+i)
			cmd := p.start(b, h, listen, target)
			b.ResetTimer()
			for i := range b.N {
				before := rss(b, cmd.Process.Pid)
				conns := make([]net.Conn, 0, n)
				buf := make([]byte, 6)
				for range n {
					var c net.Conn
					labtest.Run(b, h, func() (err error) { c, err = net.Dial("tcp4", listen); return err })
					c.Write([]byte("hello!"))
					if _, err := io.ReadFull(c, buf); err != nil {
						b.Fatal(err)
					}
					conns = append(conns, c)
				}
				// Later rounds reuse what the first one grew (RSS does not
				// shrink): only the first round measures.
				if i == 0 {
					b.ReportMetric(float64(rss(b, cmd.Process.Pid)-before)/n, "B/idle-conn")
				}
				for _, c := range conns {
					c.Close()
				}
			}
		})
	}
}

// BenchmarkHAProxyTFO: curl → HAProxy (`server ... tfo`) or the fastopen
// relay → 50 ms link → fastopen relay (TFO listener, --early forward, or
// --early wait for the last variant) → nginx without TFO. One operation is one curl request; the metrics are
// its median time and the share of requests whose data arrived in the
// SYN at the far relay (its namespace's TCPFastOpenPassive).
func BenchmarkHAProxyTFO(b *testing.B) {
	const rtt = 50 * time.Millisecond
	l := labtest.Lab(b, lab.Config{RTT: rtt})
	nginxAddr := netip.MustParseAddrPort("127.0.0.1:8080")
	labtest.StartNginx(b, l.Server, nginxAddr, func(dir string) string { return bench.NginxConfig(dir, nginxAddr, 0) })
	far := netip.AddrPortFrom(l.ServerAddr(false), 9000).String()
	startCmd(b, l.Server, far, fastopenBinary(b), "relay", "--listen", far, "--to", "127.0.0.1:8080", "--tfo", "listen", "--early", "forward")
	farWait := netip.AddrPortFrom(l.ServerAddr(false), 9001).String()
	startCmd(b, l.Server, farWait, fastopenBinary(b), "relay", "--listen", farWait, "--to", "127.0.0.1:8080", "--tfo", "listen", "--early", "wait")
	curl := labtest.NeedCommand(b, "curl")
	for i, c := range []struct {
		name  string
		start func(listen string)
	}{
		{"haproxy-tfo", func(listen string) {
			startCmd(b, l.Client, listen, labtest.NeedCommand(b, "haproxy"), "-db", "-f", haproxyConfig(b, listen, far, "tfo", ""))
		}},
		{"fastopen-relay", func(listen string) {
			startCmd(b, l.Client, listen, fastopenBinary(b), "relay", "--listen", listen, "--to", far, "--tfo", "dial")
		}},
		{"fastopen-relay-early-wait", func(listen string) {
			startCmd(b, l.Client, listen, fastopenBinary(b), "relay", "--listen", listen, "--to", farWait, "--tfo", "dial")
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			listen := "127.0.0.1:" + strconv.Itoa(7100+i)
			c.start(listen)
			get := func() time.Duration {
				out, err := l.Client.Command(curl, "-sS", "-o", "/dev/null", "--max-time", "5", "-w", "%{time_total}", "http://"+listen+"/").Output()
				if err != nil {
					b.Fatalf("curl: %v", err)
				}
				f, _ := strconv.ParseFloat(string(out), 64)
				return time.Duration(f * float64(time.Second))
			}
			get() // warm-up: the cookie
			before := labtest.Counters(b, l.Server)["TcpExt.TCPFastOpenPassive"]
			var times []time.Duration
			b.ResetTimer()
			for range b.N {
				times = append(times, get())
			}
			b.StopTimer()
			slices.Sort(times)
			passive := labtest.Counters(b, l.Server)["TcpExt.TCPFastOpenPassive"] - before
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms/req")
			b.ReportMetric(float64(times[len(times)/2])/float64(rtt), "RTT/req")
			b.ReportMetric(100*float64(passive)/float64(b.N), "%syn-data")
		})
	}
}
