package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/eurekad/eurekad/sdk/storage"
)

// boltFile is the store's file name inside storage.data_dir.
const boltFile = "registry.db"

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
