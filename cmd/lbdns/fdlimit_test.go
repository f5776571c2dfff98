package main

import (
	"log/slog"
	"syscall"
	"testing"
)

func TestHeldConnectionsBoundedByTheOpenFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		t.Skip("no open-file limit to read, or none worth the name:", lim.Cur, err)
	}
	log := slog.New(slog.DiscardHandler)
	if got := heldConnections(int(lim.Cur), log); uint64(got) != lim.Cur/4 {
		t.Fatalf("asked for the whole open-file limit %d: %d held, want a quarter", lim.Cur, got)
	}
	if got := heldConnections(1, log); got != 1 {
		t.Fatalf("asked for 1: %d", got)
	}
	if got := heldConnections(0, log); got != 0 {
		t.Fatalf("asked for 0 (off): %d", got)
	}
}
