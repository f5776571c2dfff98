package nodeagent

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// counters are one interface's byte counters.
type counters struct{ rx, tx uint64 }

// parseNetDev reads /proc/net/dev: per interface, the bytes received (first
// column after the name) and transmitted (ninth). The file shows the
// network namespace of the reader.
func parseNetDev(r io.Reader) (map[string]counters, error) {
	out := map[string]counters{}
	sc := bufio.NewScanner(r)
	for line := 0; sc.Scan(); line++ {
		if line < 2 {
			continue // two header lines
		}
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			return nil, fmt.Errorf("line %d of /proc/net/dev has no interface name", line+1)
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			return nil, fmt.Errorf("line %d of /proc/net/dev has %d fields, want 16", line+1, len(f))
		}
		rx, err1 := strconv.ParseUint(f[0], 10, 64)
		tx, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d of /proc/net/dev: bad byte counters %q, %q", line+1, f[0], f[8])
		}
		out[strings.TrimSpace(name)] = counters{rx: rx, tx: tx}
	}
	return out, sc.Err()
}
