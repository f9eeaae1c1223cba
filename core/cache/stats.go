package cache

// Hits reports how many Gets were answered with a payload already built.
// The count is striped (internal/counter), so the cached read path
// gains no shared write.
func (c *Cache) Hits() uint64 { return c.hits.Load() }
