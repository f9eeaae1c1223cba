package registry

import (
	"strconv"
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// TestDeltaQueueBlocks: the queue keeps its entries in order and numbered
// across blocks, whatever the sweep and the cap drop: part of a block,
// whole blocks, everything.
func TestDeltaQueueBlocks(t *testing.T) {
	var q deltaQueue
	next := 0 // the number of the next entry added; its id and time
	add := func(k int) {
		for range k {
			l := newLease(&eureka.InstanceInfo{App: "A"}, strconv.Itoa(next), int64(next))
			q.add(l, int64(next))
			next++
		}
	}
	// check: the queue holds entries from through next-1.
	check := func(step string, from int) {
		t.Helper()
		if q.first != uint64(from) || q.len() != next-from {
			t.Fatalf("%s: first %d, %d entries; want %d, %d", step, q.first, q.len(), from, next-from)
		}
		all := q.entries()
		for i, it := range all {
			if it.id != strconv.Itoa(from+i) || it.at != int64(from+i) || it.times.registration != int64(from+i) {
				t.Fatalf("%s: entry %d is %s at %d", step, i, it.id, it.at)
			}
		}
		// A reader's cursor at every place takes the rest.
		for _, i := range []int{0, 1, deltaBlock - 1, deltaBlock, len(all) - 1, len(all)} {
			if i < 0 || i > len(all) {
				continue
			}
			rest := q.appendFrom(nil, i)
			if len(rest) != len(all)-i || len(rest) > 0 && rest[0].id != all[i].id {
				t.Fatalf("%s: from %d: %d entries", step, i, len(rest))
			}
		}
	}
	add(3*deltaBlock + 10)
	check("added", 0)
	q.sweep(5) // part of the first block
	check("swept 5", 5)
	q.sweep(2*deltaBlock + 3) // the rest of it, a whole block and part of the third
	check("swept into the third block", 2*deltaBlock+3)
	if len(q.blocks) != 2 || q.spare == nil {
		t.Fatalf("%d blocks, spare %v: emptied blocks are let go, one kept", len(q.blocks), q.spare != nil)
	}
	add(deltaBlock) // fills the last block and takes the spare
	check("added again", 2*deltaBlock+3)
	q.drop(10) // the cap's way
	check("dropped 10", 2*deltaBlock+13)
	q.sweep(int64(next))
	check("swept all", next)
	if q.blocks != nil {
		t.Fatalf("an empty queue keeps %d blocks", len(q.blocks))
	}
	add(1)
	check("added after empty", next-1)
}
