package eurekadtest

import (
	"testing"
	"time"
)

// Eventually calls check until it returns nil, failing the test with the
// last error once within has passed. Tests poll with it instead of sleeping:
// eurekad's cached reads follow a write within milliseconds, not at once.
func Eventually(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, within, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
