// Command ferretdb runs an embedded FerretDB (v1.24, SQLite handler) as a
// MongoDB-protocol server for the Orchestrator's tests and CI.
//
// Usage:
//
//	ferretdb -listen 127.0.0.1:27017 -data /path/to/dir [-log-level warn]
//
// It stops cleanly on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	data := flag.String("data", "", "directory for SQLite data files (created if missing)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	if err := run(*listen, *data, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, data, logLevel string) error {
	if data == "" {
		return fmt.Errorf("-data is required")
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %v", logLevel, err)
	}

	dir, err := filepath.Abs(data)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create data dir: %v", err)
	}

	// The SQLite handler wants a directory URI ending with "/".
	sqliteURL := "file:" + dir
	if !strings.HasSuffix(sqliteURL, "/") {
		sqliteURL += "/"
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb: listening on %s, data %s (pid %d)\n", listen, dir, os.Getpid())

	if err = f.Run(ctx); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "ferretdb: stopped")
	return nil
}
