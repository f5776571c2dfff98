package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimitFromTheCgroup(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noEnv := func(string) string { return "" }
	limited := write("v2", "268435456\n")
	if got := setMemoryLimit(noEnv, []string{filepath.Join(dir, "absent"), limited}); got != 241591910 || debug.SetMemoryLimit(-1) != got {
		t.Fatalf("256 MiB container: soft limit %d (runtime %d), want 90%%", got, debug.SetMemoryLimit(-1))
	}
	debug.SetMemoryLimit(math.MaxInt64)
	if got := setMemoryLimit(noEnv, []string{write("max", "max\n")}); got != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("no limit: set %d", got)
	}
	if got := setMemoryLimit(func(string) string { return "100MiB" }, []string{limited}); got != 0 {
		t.Fatalf("GOMEMLIMIT set: lbdns set %d too", got)
	}
}

// The collector's target is raised for the start and put back when ready,
// unless the operator set GOGC.
func TestCollectLessUntilReady(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	restore := collectLessUntilReady(func(string) string { return "" })
	if got := debug.SetGCPercent(startGCPercent); got != startGCPercent {
		t.Fatalf("GC percent during the start %d, want %d", got, startGCPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent once ready %d, want 100 again", got)
	}
	restore = collectLessUntilReady(func(k string) string { return map[string]string{"GOGC": "50"}[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: lbdns changed the GC percent to %d", got)
	}
	restore()
}
