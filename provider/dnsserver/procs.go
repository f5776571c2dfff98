package dnsserver

import (
	"runtime"
	"sync"
)

// procs is the process's reservation of processors (Ps) for UDP readers.
//
// A reader waits for datagrams in a blocking system call, and Go keeps the
// reader's processor while it waits, until the runtime's monitor takes it
// back, which it does at once when no other processor is idle. With as
// many readers as processors, every wait ended in such a hand-off, the
// monitor woke every 20 us to make them, and the server answered 0.84-0.87x
// Knot's queries per second; with one processor more per reader it answered
// 1.07-1.28x (make dnsbench). So while servers serve, GOMAXPROCS is raised
// by one per reader: Go code elsewhere keeps the processors it had, as it
// would beside any thread blocked in the kernel. (Setting GOMAXPROCS stops
// the runtime's own updates of it when the container's CPU limit changes:
// with the embedded DNS on, such a change takes effect at the next start.)
var procs struct {
	sync.Mutex
	base    int // GOMAXPROCS before the first reservation
	readers int // readers of all servers now serving
}

// reserveProcs returns how many UDP readers a server should run (one per
// processor the process had) and raises GOMAXPROCS by that many until
// release.
func reserveProcs() (readers int, release func()) {
	procs.Lock()
	defer procs.Unlock()
	if procs.readers == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	readers = procs.base
	procs.readers += readers
	runtime.GOMAXPROCS(procs.base + procs.readers)
	var once sync.Once
	return readers, func() {
		once.Do(func() {
			procs.Lock()
			defer procs.Unlock()
			procs.readers -= readers
			runtime.GOMAXPROCS(procs.base + procs.readers)
		})
	}
}
