package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/fastopen/fastopen"
	"github.com/fastopen/fastopen/key"
	"github.com/fastopen/fastopen/metrics"
)

func init() {
	serveHooks = append(serveHooks, func(fs *flag.FlagSet) serveHook {
		h := &opsHook{}
		fs.StringVar(&h.keyFile, "key-file", "", "cookie key `FILE` (made by: fastopen key new; an optional backup key after a comma or on a second line), reloaded on SIGHUP and on change")
		// Checked while parsing, so that a bad address is a usage error
		// (exit 2) reported before the server starts listening.
		fs.Func("metrics", "serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9100; port 0 picks one and logs it); at most 16 connections at once, idle ones closed after 10s", func(s string) error {
			if err := checkHostPort(s, true); err != nil {
				return err
			}
			h.metricsAddr = s
			return nil
		})
		return h
	})
}

// opsHook gives `fastopen serve` a cookie key file and a metrics endpoint.
type opsHook struct {
	keyFile     string
	metricsAddr string
	metrics     *metrics.Server
	hup         chan os.Signal // SIGHUP, caught from Configure on
}

// Configure puts the key file's keys on the listener before it listens,
// so that no cookie is ever issued with another key. Listen then watches
// the file.
func (h *opsHook) Configure(lc *fastopen.ListenConfig) error {
	if h.keyFile == "" {
		return nil
	}
	// Caught from here on, so that a SIGHUP sent while the server starts
	// reloads the key once it runs instead of ending the process (the
	// signal's default action).
	h.hup = make(chan os.Signal, 1)
	signal.Notify(h.hup, syscall.SIGHUP)
	primary, backup, err := key.LoadKeyFile(h.keyFile)
	if err != nil {
		return fmt.Errorf("--key-file: %w", err)
	}
	lc.Key, lc.BackupKey = &primary, backup
	return nil
}

// Listen loads the key file onto the listener and starts its watcher and
// the metrics endpoint; both stop with ctx.
func (h *opsHook) Listen(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	if h.metricsAddr != "" {
		m, err := metrics.New()
		if err != nil {
			return err
		}
		h.metrics = m
		mln, err := net.Listen("tcp", h.metricsAddr)
		if err != nil {
			m.Close()
			return fmt.Errorf("--metrics: %w", listenErr(h.metricsAddr, err))
		}
		go func() {
			if err := m.Serve(ctx, mln); err != nil {
				log.Error("metrics endpoint stopped", "err", err)
			}
			m.Close()
		}()
		log.Info("metrics", "url", "http://"+mln.Addr().String()+"/metrics")
	}
	if h.keyFile == "" {
		return nil
	}
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("--key-file: the listener does not expose its socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("--key-file: %w", err)
	}
	var backup bool // whether the installed file had a backup key
	w := &key.KeyWatcher{
		Path: h.keyFile,
		Install: func(p fastopen.Key, b *fastopen.Key) error {
			backup = b != nil
			var serr error
			if err := rc.Control(func(fd uintptr) { serr = fastopen.SetListenerKey(fd, p, b) }); err != nil {
				return err
			}
			return serr
		},
		OnResult: func(err error) {
			if h.metrics != nil {
				h.metrics.KeyLoad(err)
			}
		},
	}
	if err := w.Load(); err != nil {
		return fmt.Errorf("--key-file: %w", err)
	}
	// Logging starts after the first load: its failure is the command's
	// error, printed once.
	w.Log = log
	log.Info("TFO key loaded", "file", h.keyFile, "backup", backup)
	hup := h.hup
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the TFO key file", "file", h.keyFile)
				w.Reload()
			}
		}
	}()
	go w.Run(ctx)
	return nil
}

// Rejected counts SYN data left unanswered by --confirm.
func (h *opsHook) Rejected(net.Conn, fastopen.Info, error) {
	if h.metrics != nil {
		h.metrics.Unconfirmed()
	}
}

// Accepted counts the connection in the metrics.
func (h *opsHook) Accepted(c net.Conn, info fastopen.Info) {
	if h.metrics != nil {
		h.metrics.Accepted(info.SYNData, info.SYNBytes)
	}
}
