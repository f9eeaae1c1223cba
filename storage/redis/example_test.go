package redis_test

import (
	"context"
	"log"
	"time"

	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/redis"
)

// Open a store on a single server by URL, write a record and read it back.
func ExampleOpen() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, redis.Options{URL: "redis://:secret@redis.internal:6379/0"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	k := storage.NewKey("orders", "i-1")
	if err := s.Put(ctx, storage.Record{Key: k, Value: []byte("..."), Updated: time.Now().UnixMilli()}); err != nil {
		log.Fatal(err)
	}
	if _, err := s.Get(ctx, k); err != nil {
		log.Fatal(err)
	}
}

// The same store behind Sentinel: the sentinels' addresses and the name of
// the master they watch.
func ExampleOpen_sentinel() {
	s, err := redis.Open(context.Background(), redis.Options{
		Addrs:      []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		MasterName: "registry",
		Password:   "secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}

// On Redis Cluster: seed nodes (two or more, or one with Cluster set). A
// registry's keys share one slot, so batches stay atomic.
func ExampleOpen_cluster() {
	s, err := redis.Open(context.Background(), redis.Options{
		Addrs:     []string{"node-1:6379", "node-2:6379", "node-3:6379"},
		KeyPrefix: "eurekad-prod:",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}
