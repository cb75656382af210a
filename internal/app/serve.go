package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/db"
	"github.com/gatehouse/gatehouse/session"
)

// serve runs the server until ctx is cancelled, then shuts down gracefully.
func serve(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	tuneGC()
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.db.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("database migrations: %w", err)
	}
	if len(applied) > 0 {
		log.Info("applied database migrations", "migrations", applied)
	}
	_, handler, err := NewServer(d)
	if err != nil {
		return err
	}
	if d.db.Dialect() == db.Postgres && !cfg.set["KEYS_FILE"] {
		log.Warn("GATEHOUSE_KEYS_FILE is not set: the keys file is " + cfg.KeysFile + " in the working directory; several instances must share one keys file (see docs/scaling.md)")
	}
	if cfg.Dev {
		log.Warn("development mode: plain http is allowed and /dev/outbox shows outgoing mail; never run it so in production")
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("setting GATEHOUSE_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	tlsOn := cfg.TLSCert != ""
	if tlsOn {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(bg); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("background task stopped", "task", name, "err", err)
			}
		}()
	}
	run("keys reload", func(ctx context.Context) error { return d.keyFile.Watch(ctx, cfg.KeysReload) })
	run("session sweeper", func(ctx context.Context) error {
		// Redis and cookie sessions expire by themselves: nothing to sweep.
		if err := d.sessions.RunSweeper(ctx, 5*time.Minute); !errors.Is(err, session.ErrNotSupported) {
			return err
		}
		return nil
	})
	d.startBackground(run)

	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			stopBG()
			wg.Wait()
			return fmt.Errorf("setting GATEHOUSE_METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", d.metrics.Handler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = metricsSrv.Serve(mln) }()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(), "base_url", cfg.BaseURL.String(),
		"database", d.db.Dialect(), "session_store", cfg.SessionStore, "version", version())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutCtx)
	}
	stopBG()
	wg.Wait()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// tuneGC trades a little memory for throughput: an auth server's live heap
// is small, so the collector runs less often (GOGC=400) under a soft limit
// of 128 MiB that makes it work harder before memory grows further. The
// standard GOGC and GOMEMLIMIT environment variables override both.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
}
