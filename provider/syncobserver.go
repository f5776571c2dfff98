package provider

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lbdns/lbdns/model"
)

// SyncObserver records an output's syncs: in the metrics the result, the
// time of the last success, and once per generation how long after the change
// the output reflected it; in its Status whether the output is failing, since
// when and why. It is safe for concurrent use.
type SyncObserver struct {
	Output  string
	Metrics *Metrics

	mu     sync.Mutex
	synced uint64 // the newest generation reflected
	status OutputStatus
}

// OutputStatus is an output's sync state, for /status and the logs.
type OutputStatus struct {
	Output      string
	LastSuccess time.Time
	// Failing is set from a failed sync until the next success; LastError
	// says why, FailingSince since when, Failures how many in a row.
	Failing      bool
	LastError    string
	FailingSince time.Time
	Failures     int
	// DryRun is set for a writer that only plans (LBDNS_DRY_RUN); Plan is
	// what its last successful sync would have changed.
	DryRun bool
	Plan   Plan
}

// Observe records one sync of snap that ended with err. It returns the new
// status and whether it changed in a way worth a log line: the output started
// failing, fails for another reason, or recovered.
func (o *SyncObserver) Observe(snap *model.Snapshot, err error) (OutputStatus, bool) {
	now := time.Now()
	st, changed := o.record(err, now)
	o.Metrics.synced(o.Output, err, now)
	if err == nil {
		o.Reflected(snap, now)
	}
	return st, changed
}

func (o *SyncObserver) record(err error, now time.Time) (OutputStatus, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	prev := o.status
	st := &o.status
	st.Output = o.Output
	if err == nil {
		st.LastSuccess = now
		st.Failing, st.LastError, st.FailingSince, st.Failures = false, "", time.Time{}, 0
		return *st, prev.Failing
	}
	if !st.Failing {
		st.FailingSince = now
	}
	st.Failing, st.LastError = true, err.Error()
	st.Failures++
	return *st, !prev.Failing || prev.LastError != st.LastError
}

// planned records a dry run's plan; it reports whether the plan differs
// from the last one recorded (or is the first).
func (o *SyncObserver) planned(p Plan) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	changed := !o.status.DryRun || !o.status.Plan.equal(p)
	o.status.DryRun, o.status.Plan = true, p
	return changed
}

// Status returns the output's sync state.
func (o *SyncObserver) Status() OutputStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.status
	st.Output = o.Output
	return st
}

// Reflected records, for each generation newer than the last one reflected,
// the time from its change to now. The first call only sets the baseline:
// what changed before the output first looked is not its latency.
func (o *SyncObserver) Reflected(snap *model.Snapshot, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.synced == 0 {
		o.synced = snap.Generation
		o.Metrics.latencyStarts(o.Output)
		return
	}
	if snap.Generation <= o.synced {
		return
	}
	for _, c := range snap.ChangesAfter(o.synced) {
		o.Metrics.reflected(o.Output, now.Sub(c.At))
	}
	o.synced = snap.Generation
}

// Outputs hands out one SyncObserver per output and lists their states.
type Outputs struct {
	Metrics *Metrics

	mu        sync.Mutex
	observers []*SyncObserver
}

// Observer returns a new observer for the output, listed from now on.
func (o *Outputs) Observer(output string) *SyncObserver {
	obs := &SyncObserver{Output: output, Metrics: o.Metrics}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.observers = append(o.observers, obs)
	return obs
}

// Statuses returns the state of every output, by name.
func (o *Outputs) Statuses() []OutputStatus {
	o.mu.Lock()
	observers := slices.Clone(o.observers)
	o.mu.Unlock()
	out := make([]OutputStatus, 0, len(observers))
	for _, obs := range observers {
		out = append(out, obs.Status())
	}
	slices.SortFunc(out, func(a, b OutputStatus) int { return strings.Compare(a.Output, b.Output) })
	return out
}
