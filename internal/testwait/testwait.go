// Package testwait polls a condition until it holds or a deadline passes, so
// tests wait for asynchronous effects without fixed sleeps.
package testwait

import (
	"testing"
	"time"
)

// Timeout bounds every wait.
const Timeout = 10 * time.Second

// For polls cond every 5ms and fails the test if it does not hold within
// Timeout.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
