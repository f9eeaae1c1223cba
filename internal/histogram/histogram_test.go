package histogram

import (
	"testing"
	"time"
)

func TestDurations(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1}
	var h Durations
	for _, d := range []time.Duration{
		500 * time.Microsecond, // first bucket
		time.Millisecond,       // on a bound: that bound's bucket
		50 * time.Millisecond,  // third
		time.Hour,              // past every bound
	} {
		h.Observe(bounds, d)
	}
	s := h.Snapshot(bounds)
	want := map[float64]uint64{0.001: 2, 0.01: 2, 0.1: 3}
	for ub, n := range want {
		if s.Buckets[ub] != n {
			t.Errorf("bucket %v: %d, want %d (cumulative)", ub, s.Buckets[ub], n)
		}
	}
	if s.Count != 4 || s.Sum != time.Hour+51500*time.Microsecond {
		t.Errorf("count %d sum %v, want 4 and 1h0m0.0515s", s.Count, s.Sum)
	}
}
