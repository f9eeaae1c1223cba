// Package counter provides a striped event counter for hot paths: many
// goroutines add to it without sharing a cache line, and readers sum the
// stripes. It imports only the standard library.
package counter

import (
	"math/rand/v2"
	"sync/atomic"
)

// stripes is a power of two comfortably above the core counts eurekad runs
// on; a collision only costs some sharing, never a wrong count.
const stripes = 32

// Sharded counts events. The zero value is ready; it must not be copied
// after first use. All methods are safe for concurrent use.
type Sharded struct {
	cells [stripes]cell
}

// cell pads each stripe to its own 64-byte cache line.
type cell struct {
	n atomic.Uint64
	_ [56]byte
}

// Inc adds one. The stripe is chosen by the runtime's per-thread random
// source, which needs no shared state, so concurrent callers rarely touch
// the same line. It does not allocate.
func (c *Sharded) Inc() {
	c.cells[rand.Uint32()&(stripes-1)].n.Add(1)
}

// Load returns the sum of all stripes. It is not a snapshot: adds that run
// concurrently may or may not be included.
func (c *Sharded) Load() uint64 {
	var t uint64
	for i := range c.cells {
		t += c.cells[i].n.Load()
	}
	return t
}
