package cache

import (
	"testing"
)

func TestHitsCountPayloadsServedWithoutBuilding(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 0 })
	c.Get(appsJSON)
	builds, hits := c.Builds(), c.Hits()
	for i := 0; i < 10; i++ {
		c.Get(appsJSON)
	}
	if c.Hits()-hits != 10 || c.Builds() != builds {
		t.Fatalf("hits +%d, builds +%d after 10 cached reads", c.Hits()-hits, c.Builds()-builds)
	}
	reg.Register(inst("APP", "x"), false)
	c.Get(appsJSON)
	if c.Builds() != builds+1 {
		t.Fatalf("a read after a change did not rebuild (builds +%d)", c.Builds()-builds)
	}
}

// Each build of a cached key is counted in its entity's histogram, in the
// bucket of its cost.
func TestBuildCostByEntity(t *testing.T) {
	c, reg := newCache(t, func(o *Options) { o.MinRebuildInterval = 0 })
	reg.Register(inst("APP", "a1"), false)
	c.Get(appsJSON)
	reg.Register(inst("APP", "a2"), false)
	c.Get(appsJSON)
	c.Get(Key{Entity: EntityApp, Name: "APP", Format: JSON})
	apps, app, delta := c.BuildCost(EntityApps), c.BuildCost(EntityApp), c.BuildCost(EntityDelta)
	if apps.Count != 2 || app.Count != 1 || delta.Count != 0 {
		t.Fatalf("builds counted: apps %d, app %d, delta %d; want 2, 1, 0", apps.Count, app.Count, delta.Count)
	}
	if apps.Sum <= 0 || apps.Buckets[BuildBuckets[len(BuildBuckets)-1]] != 2 {
		t.Fatalf("apps histogram %+v: want both builds under the last bound and a positive sum", apps)
	}
	// Cumulative: every bound counts at least the builds of the one below.
	for i := 1; i < len(BuildBuckets); i++ {
		if apps.Buckets[BuildBuckets[i]] < apps.Buckets[BuildBuckets[i-1]] {
			t.Fatalf("buckets not cumulative: %v", apps.Buckets)
		}
	}
	if got := c.BuildCost(Entity(200)); got.Count != 0 {
		t.Fatalf("an unknown entity has %d builds", got.Count)
	}
}
