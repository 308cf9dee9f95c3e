package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NginxBody is what the nginx of NginxConfig answers to every request.
const NginxBody = "hello from nginx\n"

// NginxConfig is a minimal nginx configuration, kept under dir (pid, logs,
// temp paths): one server on addr with TFO (listen ... fastopen=queue)
// answering every request with NginxBody; large header buffers let padded
// requests through. Run it with `nginx -p DIR -c DIR/nginx.conf`.
func NginxConfig(dir string, addr netip.AddrPort, queue int) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    large_client_header_buffers 8 64k;
    server {
        listen %[2]s fastopen=%[3]d;
        location / { return 200 %[4]q; }
    }
}
`, dir, addr, queue, NginxBody)
}

// startNginx runs nginx in e's server namespace with a temporary
// configuration and waits until it accepts connections. stop ends it and
// removes the configuration.
func startNginx(ctx context.Context, nginx string, e *env, addr netip.AddrPort, queue int) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "fastopen-bench-nginx-")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(NginxConfig(dir, addr, queue)), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p, cmd := command(e.serverHost, nginx, "-p", dir, "-c", conf)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := p.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Probed from the server's own namespace: no emulated round trip,
		// however long, and no cookie or metrics cached at the client.
		var c net.Conn
		derr := e.server(func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, "tcp", addr.String())
			return err
		})
		if derr == nil {
			c.Close()
			return stop, nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			stop()
			return nil, fmt.Errorf("nginx exited: %s %s", strings.TrimSpace(stderr.String()), strings.TrimSpace(string(log)))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("nginx did not accept connections on %s within 5s: %v", addr, derr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
