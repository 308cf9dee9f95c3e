package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fastopen/fastopen/internal/labtest"
)

// TestServeIdleScrapersUnderFDLimit: `fastopen serve --metrics` under
// `ulimit -n 64` with 100 idle keep-alive scrapers connected to the
// metrics port keeps answering on the echo port (the metrics endpoint
// serves at most metrics.MaxConns connections; the rest wait in the
// accept queue without descriptors). Once the scrapers leave, a scrape
// shows the Go runtime's and the process's metrics.
func TestServeIdleScrapersUnderFDLimit(t *testing.T) {
	h := labtest.Host(t, "opsfd", 3)
	const limit, scrapers = 64, 100
	s := startServeCmd(t, h.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, limit),
		binary, "serve", "--log-json", "--addr", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--max-conns", "16", "--idle-timeout", "5s"))
	listening := s.listening
	echoAddr := listening["addr"].(string)
	if listening["max_conns"] != float64(16) || listening["idle_timeout"] != "5s" {
		t.Errorf("listening line does not show the bounds: %v", listening)
	}
	url := s.wait(t, "metrics")["url"].(string)
	metricsAddr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/metrics")
	var idle []net.Conn
	for range scrapers {
		c := labtest.Dial(t, h, &net.Dialer{Timeout: 5 * time.Second}, "tcp", metricsAddr)
		idle = append(idle, c)
		// A keep-alive request, its response never read: the connection
		// stays open and idle as far as the server can tell.
		fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	for i := range 3 {
		c := labtest.Dial(t, h, &net.Dialer{Timeout: 5 * time.Second}, "tcp", echoAddr)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		msg := fmt.Sprintf("ping %d", i)
		io.WriteString(c, msg)
		got, err := io.ReadAll(c)
		c.Close()
		if string(got) != msg {
			t.Fatalf("echo port with %d idle scrapers under ulimit -n %d: got %q, %v", scrapers, limit, got, err)
		}
	}
	for _, c := range idle {
		c.Close()
	}
	body := scrapeText(t, h, url)
	for _, want := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "process_open_fds ", "process_resident_memory_bytes ", "fastopen_server_connections_total{"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", strings.TrimSpace(want))
		}
	}
}
