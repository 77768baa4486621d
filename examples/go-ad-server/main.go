// Command go-ad-server is an example ad server on the adbudget Go SDK: it answers ad requests
// from a ServingCache (in memory, exact at next_change_time) and bills every served ad through a
// SpendReporter with a spool (nothing accepted is lost across a crash).
//
//	ADBUDGET_TOKEN=... BRAND_ID=... go run .
//	curl 'localhost:8081/ad?campaign=<id>'; curl localhost:8081/healthz
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"github.com/adbudget/adbudget/clients/go/adbudget"
)

// shutdownTimeout bounds each step of a graceful stop: requests in progress, then the flush of
// the spend queue. Kubernetes waits 30 s after SIGTERM before SIGKILL; two 10 s steps fit, and
// whatever is not flushed stays in the spool for the next start.
const shutdownTimeout = 10 * time.Second

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		fmt.Fprintln(os.Stderr, "go-ad-server:", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	// One HTTP/2 client (a connection per service) and one token cache for both halves.
	httpClient := adbudget.NewHTTPClient()
	tokens := adbudget.NewTokenCache(adbudget.StaticToken(cfg.token))
	cache, err := adbudget.NewServingCache(context.Background(), httpClient, cfg.campaignURL, tokens,
		adbudget.WithBrand(cfg.brandID), adbudget.WithLogger(logger))
	if err != nil {
		return err
	}
	defer cache.Close()
	// The reporter outlives the signal: its Close below flushes after the listener stopped.
	reporter, err := adbudget.NewSpendReporter(context.Background(), httpClient, cfg.budgetURL, tokens,
		adbudget.WithSpool(cfg.spoolDir), adbudget.WithLogger(logger),
		adbudget.WithOnRejected(func(e adbudget.SpendEvent, code connect.Code, msg string) {
			logger.Error("spend rejected", "event", e.ID, "campaign", e.CampaignID, "code", code.String(), "message", msg)
		}))
	if err != nil {
		return err
	}

	var ready atomic.Bool
	go func() {
		if err := cache.Ready(context.Background()); err == nil {
			ready.Store(true)
			logger.Info("serving cache ready", "campaigns", cache.Stats().Campaigns)
		}
	}()
	srv := &http.Server{
		Addr: net.JoinHostPort("", cfg.port),
		Handler: (&adServer{cache: cache, reporter: reporter, brandID: cfg.brandID, priceMicros: cfg.priceMicros,
			newEventID: newEventID, ready: &ready, logger: logger}).routes(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	logger.Info("go-ad-server listening", "port", cfg.port, "campaigns", cfg.campaignURL, "budget", cfg.budgetURL, "spool", cfg.spoolDir)

	select {
	case err := <-serveErr:
		_ = reporter.Close(context.Background())
		return err
	case <-stop.Done():
	}
	logger.Info("stopping: finishing requests, then flushing spend")
	ctx, done := context.WithTimeout(context.Background(), shutdownTimeout)
	defer done()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("requests cut at shutdown", "err", err)
	}
	flushCtx, flushDone := context.WithTimeout(context.Background(), shutdownTimeout)
	defer flushDone()
	if err := reporter.Close(flushCtx); err != nil {
		logger.Warn("spend not flushed", "err", err) // kept in the spool: sent at the next start
	}
	logger.Info("stopped", "reporter", reporter.Stats())
	return nil
}
