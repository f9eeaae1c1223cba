package persist_test

import (
	"context"
	"testing"

	"github.com/eurekad/eurekad/core/persist"
)

func TestCommitLatencyCountsFlushes(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		f.reg.Register(inst("A", string(rune('a'+i))), false)
		if err := f.p.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	l := f.p.CommitLatency()
	commits := f.p.Status().Commits
	if l.Count != commits || l.Count < 5 || l.Sum <= 0 {
		t.Fatalf("latency %+v, %d commits", l, commits)
	}
	last := uint64(0)
	for _, ub := range persist.CommitBuckets {
		if l.Buckets[ub] < last {
			t.Fatalf("buckets not cumulative: %v", l.Buckets)
		}
		last = l.Buckets[ub]
	}
	if last > l.Count {
		t.Fatalf("bucket total %d above count %d", last, l.Count)
	}
}
