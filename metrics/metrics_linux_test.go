package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/internal/labtest"
	"github.com/fastopen/fastopen/metrics"
)

// TestScrapeFollowsServer runs a TFO server in its own namespace and
// scrapes its metrics over HTTP from the test's namespace: the
// connection counters, SYN bytes and the namespace's kernel counters move
// with each connection.
func TestScrapeFollowsServer(t *testing.T) {
	h := labtest.Host(t, "metrics", 3)
	var m *metrics.Server
	labtest.Run(t, h, func() (err error) { m, err = metrics.New(); return err })
	defer m.Close()
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	labtest.Serve(ln, func(c net.Conn) {
		info, _ := fastopen.InfoOf(c)
		m.Accepted(info.SYNData, info.SYNBytes)
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
	})
	web := httptest.NewServer(m.Handler())
	defer web.Close()

	dial := func(msg string) {
		c := labtest.Dial(t, h, nil, "tcp4", ln.Addr().String())
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(c); err != nil {
			t.Fatal(err)
		}
	}
	dial("cold") // gets the cookie
	dial("warm1")
	dial("warm22")
	m.KeyLoad(nil)
	m.KeyLoad(fmt.Errorf("bad file"))
	m.Unconfirmed()

	nsCounters := labtest.Counters(t, h)
	var got map[string]float64
	deadline := time.Now().Add(3 * time.Second)
	for {
		got = scrape(t, web.URL)
		if got[`fastopen_server_connections_total{syn_data="true"}`]+got[`fastopen_server_connections_total{syn_data="false"}`] == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := map[string]float64{
		`fastopen_server_connections_total{syn_data="true"}`:               2,
		`fastopen_server_connections_total{syn_data="false"}`:              1,
		`fastopen_server_syn_data_bytes_total`:                             float64(len("warm1") + len("warm22")),
		`fastopen_key_loads_total{result="ok"}`:                            1,
		`fastopen_key_loads_total{result="error"}`:                         1,
		`fastopen_server_syn_data_unconfirmed_total`:                       1,
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassive"}`:       float64(nsCounters["TcpExt.TCPFastOpenPassive"]),
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenCookieReqd"}`:    float64(nsCounters["TcpExt.TCPFastOpenCookieReqd"]),
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenActive"}`:        2,
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassiveFail"}`:   0,
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassiveAltKey"}`: 0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if nsCounters["TcpExt.TCPFastOpenPassive"] != 2 {
		t.Errorf("namespace TCPFastOpenPassive = %d, want 2", nsCounters["TcpExt.TCPFastOpenPassive"])
	}
	before := got[`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassive"}`]
	dial("more")
	if after := scrape(t, web.URL)[`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassive"}`]; after != before+1 {
		t.Errorf("kernel TCPFastOpenPassive went %v -> %v after one more TFO connection, want +1", before, after)
	}
}

var sample = regexp.MustCompile(`(?m)^(fastopen_[^ ]+) ([0-9.e+-]+)$`)

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	out := map[string]float64{}
	for _, m := range sample.FindAllStringSubmatch(string(body), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[m[1]] = v
	}
	return out
}

// TestScrapeConcurrentAndAfterNamespaceGone: scrapes race with the
// server's updates (run with -race) and add up exactly; once the
// server's namespace is deleted, scrapes still answer from the counter
// file, which keeps the namespace's counters alive.
func TestScrapeConcurrentAndAfterNamespaceGone(t *testing.T) {
	h := labtest.Host(t, "metricsgone", 3)
	var m *metrics.Server
	labtest.Run(t, h, func() (err error) { m, err = metrics.New(); return err })
	defer m.Close()
	web := httptest.NewServer(m.Handler())
	defer web.Close()
	const workers, each = 4, 200
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				m.Accepted(j%2 == 0, 3)
				m.KeyLoad(nil)
			}
		}()
	}
	for i := 0; i < 5; i++ {
		scrape(t, web.URL)
	}
	wg.Wait()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	got := scrape(t, web.URL)
	want := map[string]float64{
		`fastopen_server_connections_total{syn_data="true"}`:         workers * each / 2,
		`fastopen_server_connections_total{syn_data="false"}`:        workers * each / 2,
		`fastopen_server_syn_data_bytes_total`:                       3 * workers * each / 2,
		`fastopen_key_loads_total{result="ok"}`:                      workers * each,
		`fastopen_kernel_tcpext_total{counter="TCPFastOpenPassive"}`: 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// TestSYNBytesWithoutFIN: a client sends 6 bytes in its SYN and shuts
// down writing before the server accepts. The server's info and
// fastopen_server_syn_data_bytes_total count 6 bytes, not the FIN's
// sequence number as a seventh.
func TestSYNBytesWithoutFIN(t *testing.T) {
	h := labtest.Host(t, "synfin", 3)
	var m *metrics.Server
	labtest.Run(t, h, func() (err error) { m, err = metrics.New(); return err })
	defer m.Close()
	ln := labtest.Listen(t, h, nil, "tcp4", "127.0.0.1:0")
	var d fastopen.Dialer
	dial := func(msg string) *fastopen.Conn {
		var c *fastopen.Conn
		labtest.Run(t, h, func() (err error) {
			c, err = d.DialData(context.Background(), "tcp4", ln.Addr().String(), []byte(msg))
			return err
		})
		return c
	}
	accept := func() (net.Conn, fastopen.Info) {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		info, err := fastopen.InfoOf(c)
		if err != nil {
			t.Fatal(err)
		}
		return c, info
	}
	cold := dial("cookie") // fetches the cookie
	c, _ := accept()
	c.Close()
	cold.Close()

	warm := dial("hello!")
	defer warm.Close()
	if err := warm.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// The server's kernel has the FIN once it has acknowledged it: the
	// client's socket then moves to FIN_WAIT2.
	deadline := time.Now().Add(3 * time.Second)
	for {
		ti, err := labtest.TCPInfo(warm)
		if err != nil {
			t.Fatal(err)
		}
		if ti.State == unix.BPF_TCP_FIN_WAIT2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client's FIN was not acknowledged (state %d)", ti.State)
		}
		runtime.Gosched()
	}
	c, info := accept()
	defer c.Close()
	m.Accepted(info.SYNData, info.SYNBytes)
	if !info.SYNData || info.SYNBytes != len("hello!") {
		t.Errorf("server info: syn_data=%v syn_bytes=%d, want 6 bytes in the SYN", info.SYNData, info.SYNBytes)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello!" {
		t.Errorf("server read %q, %v: want the 6 bytes, then EOF", got, err)
	}
	web := httptest.NewServer(m.Handler())
	defer web.Close()
	if n := scrape(t, web.URL)["fastopen_server_syn_data_bytes_total"]; n != 6 {
		t.Errorf("fastopen_server_syn_data_bytes_total = %v, want 6", n)
	}
}
