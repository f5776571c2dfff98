package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memLimitShare is the part of the container's memory limit given to the Go
// heap as its soft limit: the rest is for goroutine stacks, the binary and
// what the runtime has not returned yet.
const memLimitShare = 0.9

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// setMemoryLimit makes the garbage collector work harder as the heap nears
// the container's memory limit, instead of letting it grow into an OOM kill
// that stops every hostname's health checking. GOMEMLIMIT, when set, wins
// (the runtime read it already). It returns the limit set, 0 for none.
func setMemoryLimit(getenv func(string) string, files []string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || limit <= 0 || limit >= 1<<60 { // "max", or v1's "no limit" (a huge number)
			return 0
		}
		soft := int64(float64(limit) * memLimitShare)
		debug.SetMemoryLimit(soft)
		return soft
	}
	return 0
}
