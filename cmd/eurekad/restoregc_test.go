package main

import (
	"runtime/debug"
	"testing"
)

// gcPercent returns the collector's GOGC, leaving it as it was.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestRestoreGC: a restore runs with restoreGCPercent and the previous
// GOGC comes back after it; an operator's GOGC or GOMEMLIMIT is left alone.
func TestRestoreGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(70)
	defer debug.SetGCPercent(prev)

	undo := restoreGC()
	if got := gcPercent(); got != restoreGCPercent {
		t.Fatalf("during the restore GOGC = %d, want %d", got, restoreGCPercent)
	}
	undo()
	if got := gcPercent(); got != 70 {
		t.Fatalf("after the restore GOGC = %d, want 70 back", got)
	}

	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "50")
			undo := restoreGC()
			if got := gcPercent(); got != 70 {
				t.Fatalf("with %s set GOGC = %d, want 70 untouched", env, got)
			}
			undo()
			if got := gcPercent(); got != 70 {
				t.Fatalf("with %s set, after the restore GOGC = %d, want 70", env, got)
			}
		})
	}
}
