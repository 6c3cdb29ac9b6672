// Command ferretdb runs an embedded FerretDB (v1.24) as a MongoDB-protocol
// server for the Orchestrator's tests, CI and benchmarks, on either of
// FerretDB's backends: SQLite (files in a directory) or PostgreSQL.
//
// Usage:
//
//	ferretdb -listen 127.0.0.1:27017 -data /path/to/dir [-log-level warn]
//	ferretdb -listen 127.0.0.1:27017 -postgresql-url postgres://user@127.0.0.1:5432/ferretdb
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
	data := flag.String("data", "", "SQLite backend: directory for the data files (created if missing)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL backend: connection URL (instead of -data)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	if err := run(*listen, *data, *pgURL, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}

// backend returns the FerretDB configuration of the chosen backend and a
// description of where its data lives.
func backend(data, pgURL string) (ferretdb.Config, string, error) {
	if (data == "") == (pgURL == "") {
		return ferretdb.Config{}, "", fmt.Errorf("give exactly one of -data (SQLite) and -postgresql-url (PostgreSQL)")
	}
	if pgURL != "" {
		return ferretdb.Config{Handler: "postgresql", PostgreSQLURL: pgURL}, "postgresql", nil
	}
	dir, err := filepath.Abs(data)
	if err != nil {
		return ferretdb.Config{}, "", err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return ferretdb.Config{}, "", fmt.Errorf("cannot create data dir: %v", err)
	}
	// The SQLite handler wants a directory URI ending with "/".
	sqliteURL := "file:" + dir
	if !strings.HasSuffix(sqliteURL, "/") {
		sqliteURL += "/"
	}
	return ferretdb.Config{Handler: "sqlite", SQLiteURL: sqliteURL}, "sqlite " + dir, nil
}

func run(listen, data, pgURL, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %v", logLevel, err)
	}

	config, where, err := backend(data, pgURL)
	if err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	config.Listener = ferretdb.ListenerConfig{TCP: listen}
	config.Logger = logger
	f, err := ferretdb.New(&config)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	fmt.Fprintf(os.Stderr, "ferretdb: listening on %s, backend %s (pid %d)\n", listen, where, os.Getpid())

	if err = f.Run(ctx); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "ferretdb: stopped")
	return nil
}
