package nodeagent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Agent samples the node's interface counters and answers with a Report.
type Agent struct {
	node   string
	window time.Duration
	log    *slog.Logger
	// readCounters and interfaces read the kernel; tests replace them.
	readCounters func() (map[string]counters, error)
	interfaces   func() ([]Interface, error)

	mu      sync.Mutex
	samples []sample // oldest first, spanning about one window
}

type sample struct {
	at       time.Time
	counters map[string]counters
}

// NewAgent returns the agent of node, whose rates are averaged over window.
func NewAgent(node string, window time.Duration, log *slog.Logger) *Agent {
	return &Agent{node: node, window: window, log: log, readCounters: readProcNetDev, interfaces: localInterfaces}
}

// Run samples the counters every second until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		a.sample(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) sample(now time.Time) {
	c, err := a.readCounters()
	if err != nil {
		a.log.Warn("reading interface counters", "err", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.samples = append(a.samples, sample{at: now, counters: c})
	// Keep the newest sample at least a window old as the base of the rate.
	for len(a.samples) > 2 && now.Sub(a.samples[1].at) >= a.window {
		a.samples = a.samples[1:]
	}
}

// rates returns the bits per second each interface received and sent
// between the oldest and the newest sample.
func (a *Agent) rates() map[string][2]float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][2]float64{}
	if len(a.samples) < 2 {
		return out
	}
	first, last := a.samples[0], a.samples[len(a.samples)-1]
	secs := last.at.Sub(first.at).Seconds()
	for name, c := range last.counters {
		old, ok := first.counters[name]
		if !ok || c.rx < old.rx || c.tx < old.tx || secs <= 0 {
			continue // new interface or a counter reset: no rate yet
		}
		out[name] = [2]float64{float64(c.rx-old.rx) * 8 / secs, float64(c.tx-old.tx) * 8 / secs}
	}
	return out
}

// Report returns what the agent knows now.
func (a *Agent) Report() (Report, error) {
	ifs, err := a.interfaces()
	if err != nil {
		return Report{}, err
	}
	rates := a.rates()
	for i := range ifs {
		r := rates[ifs[i].Name]
		ifs[i].ReceiveBitsPerSecond, ifs[i].TransmitBitsPerSecond = r[0], r[1]
	}
	return Report{Node: a.node, Taken: time.Now(), Interfaces: ifs}, nil
}

// Handler serves the Report at Path, and /healthz and /readyz. With a
// token, the Report is served only to requests that carry it as a bearer
// token: the agent listens on the node's address, which may be public.
func (a *Agent) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, token) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "a bearer token (LBDNS_AGENT_TOKEN) is required", http.StatusUnauthorized)
			return
		}
		report, err := a.Report()
		if err != nil {
			http.Error(w, "reading the node's interfaces: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(report)
	})
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok) // it has nothing to wait for
	return mux
}

// authorized reports whether r carries token (or no token is asked for),
// compared in constant time.
func authorized(r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func readProcNetDev() (map[string]counters, error) {
	f, err := os.Open("/proc/net/dev")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseNetDev(f)
}

// localInterfaces lists the interfaces of this network namespace that are
// up, with their addresses, sorted by name.
func localInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []Interface
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, err
		}
		i := Interface{Name: ifc.Name}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				i.Addresses = append(i.Addresses, p.Addr().Unmap())
			}
		}
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b Interface) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
