package replication

import (
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
)

func key(id string) taskKey { return taskKey{action: eureka.ReplicateHeartbeat, app: "A", id: id} }

func ids(ts []*task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.key.id)
	}
	return out
}

func TestQueueDedupeKeepsPlace(t *testing.T) {
	q := newQueue(10, 5, 100)
	q.add(key("1"), 0)
	q.add(key("2"), 1)
	q.add(key("1"), 2) // replaces, keeps its place and its start time
	q.add(taskKey{action: eureka.ReplicateRegister, app: "A", id: "1"}, 3)
	if p, _, _ := q.counts(); p != 3 {
		t.Fatalf("pending = %d, want 3", p)
	}
	got, oldest := q.take(nil, 10, 50)
	if s := ids(got); len(s) != 3 || s[0] != "1" || s[1] != "2" || got[2].key.action != eureka.ReplicateRegister {
		t.Errorf("order = %v", s)
	}
	if oldest != 0 {
		t.Errorf("a replaced task's start moved: the oldest start is %d", oldest)
	}
	// The replacement's expiry counts: expires = 2+100.
	q.add(key("1"), 60)
	q.add(key("1"), 150)
	if got, _ := q.take(nil, 10, 200); len(got) != 1 {
		t.Errorf("the latest request's expiry was not kept: %v", ids(got))
	}
}

func TestQueueBoundsAndExpiry(t *testing.T) {
	q := newQueue(3, 2, 100)
	for i, id := range []string{"1", "2", "3", "4", "5"} {
		q.add(key(id), int64(i))
	}
	p, dropped, _ := q.counts()
	if p != 3 || dropped != 2 {
		t.Fatalf("pending %d dropped %d, want 3 and 2", p, dropped)
	}
	got, _ := q.take(nil, 2, 10)
	if s := ids(got); len(s) != 2 || s[0] != "3" || s[1] != "4" {
		t.Errorf("took %v, want the newest survivors in order", s)
	}
	if got, _ := q.take(nil, 2, 1000); len(got) != 0 {
		t.Errorf("expired task delivered: %v", ids(got))
	}
	if _, _, expired := q.counts(); expired != 1 {
		t.Errorf("expired = %d, want 1", expired)
	}
	// The task map stays bounded by the sweep.
	q.sweep(1000)
	if len(q.tasks) != 0 {
		t.Errorf("%d tasks left after the sweep", len(q.tasks))
	}
}

func TestQueueRequeue(t *testing.T) {
	q := newQueue(10, 5, 100)
	for i, id := range []string{"1", "2", "3"} {
		q.add(key(id), int64(i))
	}
	batch, _ := q.take(nil, 2, 5)
	q.add(key("4"), 6)
	q.add(key("2"), 7) // a newer request for 2 while its batch is out
	q.requeue(batch, 8)
	got, _ := q.take(nil, 10, 9)
	// 1 goes back in front; 2 stays where its newer request was queued.
	if s := ids(got); len(s) != 4 || s[0] != "1" || s[1] != "3" || s[2] != "4" || s[3] != "2" {
		t.Errorf("after requeue: %v, want [1 3 4 2]", s)
	}
	q.add(key("9"), 10)
	q.requeue(got, 500) // all expired by now
	if p, _, exp := q.counts(); p != 1 || exp != 4 {
		t.Errorf("pending %d expired %d after requeuing expired tasks", p, exp)
	}
}

// The queue's slice is reused: a steady stream of adds and takes does not
// grow it.
func TestQueueSteadyStateDoesNotAllocate(t *testing.T) {
	q := newQueue(1000, 250, 1e9)
	var buf []*task
	keys := make([]taskKey, 500)
	for i := range keys {
		keys[i] = key(string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	round := func() {
		for _, k := range keys {
			q.add(k, 1)
		}
		for {
			buf, _ = q.take(buf[:0], 250, 2)
			if len(buf) == 0 {
				break
			}
		}
	}
	round()
	if n := testing.AllocsPerRun(50, round); n != 0 {
		t.Errorf("%.1f allocations per round", n)
	}
}
