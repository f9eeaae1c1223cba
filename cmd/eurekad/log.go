package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
)

// newLogger returns the process's root logger, writing to w in the format
// and at the level c selects. It is handed to serve, which derives a child
// logger per component; nothing installs it as slog's default.
func newLogger(w io.Writer, c config.LogConfig) (*slog.Logger, error) {
	level, err := c.SlogLevel()
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.Format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: %q is not text or json", c.Format)
}
