package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/eurekad/eurekad/internal/redistest"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/sdk/storage/storagetest"
	"github.com/eurekad/eurekad/storage/redis"
)

// TestConformance runs the storage conformance suite on one real
// redis-server (durable, as eurekad runs it), giving each subtest a fresh
// store under its own key prefix: an empty store, and proof that prefixes
// keep stores apart.
func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, srv, redis.Options{KeyPrefix: fmt.Sprintf("conformance-%d:", n.Add(1))})
	})
}

// TestConformanceCluster runs the suite through the cluster client against
// a one-node Redis Cluster, where Redis refuses a transaction or script
// that touches more than one slot: the store's layout (one hash tag per
// registry) must keep every Batch, Delete and Snapshot within one slot.
func TestConformanceCluster(t *testing.T) {
	srv := redistest.Start(t, redistest.Cluster())
	var n atomic.Int64
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, srv, redis.Options{Addrs: []string{srv.Addr()}, Cluster: true, KeyPrefix: fmt.Sprintf("cluster-%d:", n.Add(1))})
	})
}
