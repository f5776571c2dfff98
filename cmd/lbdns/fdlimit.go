package main

import (
	"log/slog"
	"syscall"
)

// heldConnections bounds the tcp probe connections held open
// (LBDNS_PROBE_HELD_CONNECTIONS) by a quarter of the open-file limit, so
// that holding them can never starve the sockets lbdns needs to serve.
func heldConnections(want int, log *slog.Logger) int {
	var lim syscall.Rlimit
	if want == 0 || syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return want
	}
	if most := int(min(lim.Cur/4, 1<<30)); want > most {
		log.Warn("holding fewer probe connections than LBDNS_PROBE_HELD_CONNECTIONS: a quarter of the open-file limit",
			"wanted", want, "holding", most, "open_file_limit", lim.Cur)
		return most
	}
	return want
}
