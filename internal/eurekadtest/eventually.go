package eurekadtest

import (
	"errors"
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

// errNotYet is what Until reports of a condition that never held.
var errNotYet = errors.New("the condition does not hold")

// Until is Eventually for a condition that is only true or false.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, within, what, func() error {
		if !cond() {
			return errNotYet
		}
		return nil
	})
}
