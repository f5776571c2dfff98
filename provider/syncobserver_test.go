package provider

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/lbdns/lbdns/model"
)

func TestSyncObserver(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	o := &SyncObserver{Output: "test", Metrics: m}
	start := time.Now()
	snap := func(gen uint64) *model.Snapshot {
		s := &model.Snapshot{Generation: gen}
		for g := uint64(1); g <= gen; g++ {
			s.Changes = append(s.Changes, model.Change{Generation: g, At: start})
		}
		return s
	}
	observed := func() uint64 {
		var d dto.Metric
		if err := m.publishLatency.WithLabelValues("test").(prometheus.Histogram).Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetHistogram().GetSampleCount()
	}

	o.Observe(snap(3), nil) // the baseline: what changed before is not latency
	if n := observed(); n != 0 {
		t.Fatalf("baseline observed %d latencies", n)
	}
	o.Observe(snap(5), nil) // generations 4 and 5
	o.Observe(snap(5), nil) // nothing new
	o.Observe(snap(6), errors.New("provider down"))
	if n := observed(); n != 2 {
		t.Errorf("%d latencies observed, want 2 (generations 4 and 5)", n)
	}
	if got := testutil.ToFloat64(m.syncs.WithLabelValues("test", "success")); got != 3 {
		t.Errorf("successes = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.syncs.WithLabelValues("test", "error")); got != 1 {
		t.Errorf("errors = %v, want 1", got)
	}
}
