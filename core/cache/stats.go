package cache

import "github.com/eurekad/eurekad/internal/histogram"

// Hits reports how many Gets were answered with a payload already built.
// The count is striped (internal/counter), so the cached read path
// gains no shared write.
func (c *Cache) Hits() uint64 { return c.hits.Load() }

// BuildBuckets are the upper bounds, in seconds, of the build cost
// histograms: from one application's payload to a whole large registry
// encoded from scratch.
var BuildBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// Entities are the cached entities, in the order of their names.
var Entities = []Entity{EntityApps, EntityDelta, EntityApp, EntityVIP, EntitySVIP}

// String names the entity as metrics label it.
func (e Entity) String() string {
	switch e {
	case EntityApps:
		return "apps"
	case EntityDelta:
		return "delta"
	case EntityApp:
		return "app"
	case EntityVIP:
		return "vip"
	case EntitySVIP:
		return "svip"
	}
	return "unknown"
}

// BuildCost is the distribution of one entity's build times since start,
// by the upper bounds in BuildBuckets: how long a rebuild takes tells
// whether the rebuild interval widened (tooSoon) and what a reader that
// builds waits.
type BuildCost = histogram.Snapshot

// BuildCost returns e's build time distribution (payloads built for a
// cached key; none for an unknown entity).
func (c *Cache) BuildCost(e Entity) BuildCost {
	if int(e) >= len(c.costs) {
		return BuildCost{}
	}
	return c.costs[e].Snapshot(BuildBuckets)
}
