package provider

import (
	"sync"
	"time"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/metrics"
)

// SyncObserver records an output's syncs in the metrics: the result, the time
// of the last success, and once per generation how long after the change the
// output reflected it. It is safe for concurrent use.
type SyncObserver struct {
	Output  string
	Metrics *metrics.Metrics

	mu     sync.Mutex
	synced uint64 // the newest generation reflected
}

// Observe records one sync of snap that ended with err.
func (o *SyncObserver) Observe(snap *health.Snapshot, err error) {
	m := o.Metrics
	if m == nil {
		return
	}
	if err != nil {
		m.SyncTotal.WithLabelValues(o.Output, "error").Inc()
		return
	}
	now := time.Now()
	m.SyncTotal.WithLabelValues(o.Output, "success").Inc()
	m.LastSyncTimestamp.WithLabelValues(o.Output).Set(float64(now.UnixNano()) / 1e9)
	o.Reflected(snap, now)
}

// Reflected records, for each generation newer than the last one reflected,
// the time from its change to now. The first call only sets the baseline:
// what changed before the output first looked is not its latency.
func (o *SyncObserver) Reflected(snap *health.Snapshot, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.synced == 0 {
		o.synced = snap.Generation
		if o.Metrics != nil {
			o.Metrics.PublishLatency.WithLabelValues(o.Output) // the series exists from the start
		}
		return
	}
	if snap.Generation <= o.synced {
		return
	}
	for _, c := range snap.ChangesAfter(o.synced) {
		if o.Metrics != nil {
			o.Metrics.PublishLatency.WithLabelValues(o.Output).Observe(now.Sub(c.At).Seconds())
		}
	}
	o.synced = snap.Generation
}
