// Package machine holds no code: its benchmark tells what the machine the
// benchmarks run on gives (make machinebench).
package machine

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var sink atomic.Uint64

// BenchmarkParallelism runs two kinds of work once alone, then once per
// processor at once: a loop of arithmetic on registers, and lookups in a
// map larger than the caches. On as many free cores as processors each kind
// does the work of n in the time of one (speed-up n). The 2-vCPU VM of
// docs/benchmarks.md gave 1.8-2.1 for both when idle on 2026-12-03, but the
// same arithmetic loop run with go test -cpu 1,2 took as long on two
// processors as on one at another moment of that day: figures that need
// two processors at once move with the moment.
func BenchmarkParallelism(b *testing.B) {
	n := runtime.NumCPU()
	table := make(map[uint64]uint64, 1<<21)
	for i := range uint64(1 << 21) {
		table[i*0x9E3779B97F4A7C15] = i
	}
	kinds := []struct {
		name string
		work func()
	}{
		{"arithmetic", func() {
			x := uint64(1)
			for range 200_000_000 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
			}
			sink.Store(x)
		}},
		{"map lookups", func() {
			var s uint64
			for i := range uint64(10_000_000) {
				s += table[(i*7919%(1<<21))*0x9E3779B97F4A7C15]
			}
			sink.Store(s)
		}},
	}
	for b.Loop() {
		for _, k := range kinds {
			speedup := speedupOf(k.work, n)
			fmt.Printf("machine: %d processors, %s: speed-up %.2f of %d\n", n, k.name, speedup, n)
		}
	}
}

// speedupOf is how many times work's amount n runs at once do in the time
// of one run alone.
func speedupOf(work func(), n int) float64 {
	start := time.Now()
	work()
	one := time.Since(start)
	start = time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(work)
	}
	wg.Wait()
	return float64(n) * one.Seconds() / time.Since(start).Seconds()
}
