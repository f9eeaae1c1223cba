package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/bolt"
	"github.com/eurekad/eurekad/storage/redis"
)

// boltFile is the store's file name inside storage.data_dir.
const boltFile = "registry.db"

// openStore opens the configured store; nil for memory, which keeps
// nothing across restarts.
func openStore(ctx context.Context, cfg config.StorageConfig, log *slog.Logger) (storage.Store, error) {
	switch cfg.Kind {
	case "memory":
		return nil, nil
	case "bolt":
		path := filepath.Join(cfg.DataDir, boltFile)
		s, err := bolt.Open(path, &bolt.Options{Timeout: 5 * time.Second, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open bolt store %s: %w", path, err)
		}
		return s, nil
	case "redis":
		// go-redis logs dial failures through a process-wide logger; send
		// them to ours instead of bare stderr lines.
		goredis.SetLogger(redisLog{log.With("store", "redis")})
		s, err := redis.Open(ctx, redis.Options{URL: cfg.RedisURL, KeyPrefix: cfg.RedisKeyPrefix, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open redis store %s: %w", cfg.RedisURL, err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown storage kind %q", cfg.Kind)
}

// storeProbe reads a key that is never written, so that readiness can
// check that the store answers.
func storeProbe(s storage.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := s.Get(ctx, storage.Key{App: "EUREKAD", ID: "readiness-probe"})
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	}
}

// redisLog adapts slog to go-redis's logger.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...))
}
