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
