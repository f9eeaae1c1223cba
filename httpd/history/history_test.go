package history

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

func ev(seq uint64, typ hook.EventType, app, id string, status eureka.Status) hook.Event {
	return hook.Event{Seq: seq, Type: typ, Time: time.Unix(int64(seq), 0), App: app, InstanceID: id,
		Instance: &eureka.InstanceInfo{App: app, Status: status}}
}

func TestHistoryNewestFirstAndFolded(t *testing.T) {
	r := New(0, 0)
	_ = r.Handle(context.Background(), []hook.Event{
		ev(1, hook.EventRegistered, "A", "a-1", eureka.StatusStarting),
		ev(2, hook.EventRegistered, "A", "a-1", eureka.StatusUp),
		ev(3, hook.EventRegistered, "A", "a-1", eureka.StatusUp), // folded into 2
		{Seq: 4, Type: hook.EventSelfPreservationEntered},        // server-wide: ignored
		ev(5, hook.EventStatusChanged, "A", "a-1", eureka.StatusOutOfService),
		ev(6, hook.EventRegistered, "B", "b-1", eureka.StatusUp),
	})
	got := r.Get("A", "a-1")
	want := []struct {
		seq     uint64
		event   string
		status  string
		repeats int
	}{{5, "status-changed", "OUT_OF_SERVICE", 0}, {3, "registered", "UP", 1}, {1, "registered", "STARTING", 0}}
	if len(got) != len(want) {
		t.Fatalf("history = %+v, want %d entries", got, len(want))
	}
	for i, w := range want {
		if g := got[i]; g.Seq != w.seq || g.Event != w.event || g.Status != w.status || g.Repeats != w.repeats {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if !got[1].Time.Equal(time.Unix(3, 0)) {
		t.Errorf("a folded entry keeps the newest time: %v", got[1].Time)
	}
	if r.Get("A", "nope") != nil {
		t.Error("an unknown instance has a history")
	}
	if s := r.Stats(); s.Instances != 2 || s.Entries != 4 {
		t.Errorf("stats = %+v, want 2 instances, 4 entries", s)
	}
}

func TestHistoryBounded(t *testing.T) {
	r := New(3, 7)
	st := []eureka.Status{eureka.StatusUp, eureka.StatusDown}
	var batch []hook.Event
	seq := uint64(0)
	// a-1 changes 10 times: only its last 3 are kept.
	for i := range 10 {
		seq++
		batch = append(batch, ev(seq, hook.EventStatusChanged, "A", "a-1", st[i%2]))
	}
	_ = r.Handle(context.Background(), batch)
	got := r.Get("A", "a-1")
	if len(got) != 3 || got[0].Seq != 10 || got[2].Seq != 8 {
		t.Fatalf("per-instance bound: %+v", got)
	}
	// Three more instances with 2 changes each make 9 entries > 7: the
	// least recently changed instance (a-1) is forgotten whole.
	for i := range 3 {
		for j := range 2 {
			seq++
			_ = r.Handle(context.Background(), []hook.Event{ev(seq, hook.EventStatusChanged, "B", fmt.Sprint("b-", i), st[j])})
		}
	}
	if got := r.Get("A", "a-1"); got != nil {
		t.Errorf("the oldest instance is still held: %+v", got)
	}
	if s := r.Stats(); s.Entries > 7 || s.Instances != 3 || s.Entries != 6 {
		t.Errorf("stats = %+v, want 3 instances and 6 entries (at most 7)", s)
	}
	_ = r.Handle(context.Background(), []hook.Event{{Type: hook.EventGap, Dropped: 5}})
	if s := r.Stats(); s.Lost != 5 {
		t.Errorf("lost = %d, want 5", s.Lost)
	}
}

// An entry carries the health verdict and its detail; a registration that
// differs only by its verdict is not folded into the one before.
func TestHistoryHealthVerdict(t *testing.T) {
	r := New(0, 0)
	down := ev(2, hook.EventRegistered, "A", "a-1", eureka.StatusDown)
	down.Instance.Metadata = map[string]string{"eurekad.health": "down", "eurekad.health.detail": "HTTP 500"}
	client := ev(3, hook.EventRegistered, "A", "a-1", eureka.StatusDown) // the client's own DOWN
	_ = r.Handle(context.Background(), []hook.Event{ev(1, hook.EventRegistered, "A", "a-1", eureka.StatusDown), down, client})
	got := r.Get("A", "a-1")
	if len(got) != 3 || got[1].Health != "down" || got[1].HealthDetail != "HTTP 500" || got[0].Health != "" || got[2].Health != "" {
		t.Errorf("history = %+v", got)
	}
}

// TestHistoryForgetsLeastRecentlyChanged: over the bound, the instance
// whose last change is the oldest goes first, wherever a change moved it
// from (the oldest end, the middle, the newest end).
func TestHistoryForgetsLeastRecentlyChanged(t *testing.T) {
	r := New(1, 3)
	seq := uint64(0)
	change := func(id string) {
		seq++
		_ = r.Handle(context.Background(), []hook.Event{ev(seq, hook.EventRegistered, "A", id, eureka.StatusUp)})
	}
	held := func() (ids []string) {
		for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
			if r.Get("A", id) != nil {
				ids = append(ids, id)
			}
		}
		return ids
	}
	for _, step := range []struct {
		change string
		want   string
	}{
		{"a", "a"}, {"b", "ab"}, {"c", "abc"},
		{"a", "abc"}, // the oldest end moves to the newest: b, c, a from the oldest
		{"d", "acd"}, // b goes
		{"a", "acd"}, // the newest end changes again
		{"c", "acd"}, // from the middle: d, a, c
		{"e", "ace"}, // d goes
		{"f", "cef"}, // a goes
	} {
		change(step.change)
		if got := strings.Join(held(), ""); got != step.want {
			t.Fatalf("after a change of %s: held %s, want %s", step.change, got, step.want)
		}
	}
	if s := r.Stats(); s.Instances != 3 || s.Entries != 3 {
		t.Fatalf("stats = %+v", s)
	}
}

// BenchmarkRecord measures what a registration costs the Recorder, called
// inline by the event bus: a fleet of instances over 50 applications
// registering again in turn, each change folding into the instance's last
// entry. The larger fleet does not fit in the CPU's caches, as in eurekad
// under load, where every change reaches memory the others left cold.
func BenchmarkRecord(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := New(0, 2*n)
			events := make([]hook.Event, n)
			for i := range events {
				app := fmt.Sprintf("SERVICE-%02d", i%50)
				events[i] = ev(uint64(i+1), hook.EventRegistered, app, fmt.Sprintf("10.%d.%d.%d:%s:8080", i/62500, i/250%250, i%250, app), eureka.StatusUp)
				_ = r.Handle(context.Background(), events[i:i+1])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				e := &events[i%n]
				e.Seq += uint64(n)
				_ = r.Handle(context.Background(), events[i%n:i%n+1])
				i++
			}
		})
	}
}
