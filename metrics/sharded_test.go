package metrics

import (
	"math"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Observations on several shards, from several goroutines, read as one
// histogram equal to a plain prometheus.Histogram given the same values.
func TestShardedHistogramSumsItsShards(t *testing.T) {
	buckets := []float64{0.1, 0.5, 1}
	sharded := Registrar{Reg: prometheus.NewPedanticRegistry()}.ShardedHistogram("h", "help", buckets)
	plain := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "help", Buckets: buckets})
	values := []float64{0.05, 0.1, 0.3, 0.5, 0.7, 1, 2, 30}
	var wg sync.WaitGroup
	for g := range 4 {
		shard := sharded.Shard()
		wg.Go(func() {
			for i := range 1000 {
				shard.Observe(values[(i+g)%len(values)])
			}
		})
		for i := range 1000 {
			plain.Observe(values[(i+g)%len(values)])
		}
	}
	wg.Wait()
	got, want := histogramOf(t, sharded), histogramOf(t, plain)
	if got.GetSampleCount() != want.GetSampleCount() || math.Abs(got.GetSampleSum()-want.GetSampleSum()) > 1e-6 {
		t.Fatalf("count %d sum %g, want %d %g", got.GetSampleCount(), got.GetSampleSum(), want.GetSampleCount(), want.GetSampleSum())
	}
	if len(got.Bucket) != len(want.Bucket) {
		t.Fatalf("%d buckets, want %d", len(got.Bucket), len(want.Bucket))
	}
	for i := range want.Bucket {
		if got.Bucket[i].GetUpperBound() != want.Bucket[i].GetUpperBound() ||
			got.Bucket[i].GetCumulativeCount() != want.Bucket[i].GetCumulativeCount() {
			t.Errorf("bucket %d: %v, want %v", i, got.Bucket[i], want.Bucket[i])
		}
	}
}

func histogramOf(t *testing.T, c prometheus.Collector) *dto.Histogram {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}
