package metrics

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// ShardedHistogram is a histogram whose observations are made on shards,
// one per busy goroutine, and summed when scraped: several threads
// observing one histogram per operation (the DNS server's readers, a few
// hundred thousand queries a second) made its cache lines move between
// cores on every observation.
type ShardedHistogram struct {
	desc   *prometheus.Desc
	bounds []float64 // upper bounds, ascending

	mu     sync.Mutex
	shards []*HistogramShard
}

// HistogramShard is one goroutine's part of a ShardedHistogram. Observe is
// safe from several goroutines, but is cheap only from one.
type HistogramShard struct {
	_      [64]byte  // its own cache lines: not shared with another shard
	bounds []float64 // the histogram's
	counts []atomic.Uint64
	over   atomic.Uint64 // observations above the last bound
	sum    atomic.Uint64 // float64 bits
	_      [64]byte
}

// ShardedHistogram creates a sharded histogram without labels.
func (r Registrar) ShardedHistogram(name, help string, buckets []float64) *ShardedHistogram {
	h := &ShardedHistogram{desc: prometheus.NewDesc(name, help, nil, nil), bounds: slices.Sorted(slices.Values(buckets))}
	return register(r, h)
}

// Shard returns a new shard of h.
func (h *ShardedHistogram) Shard() *HistogramShard {
	s := &HistogramShard{bounds: h.bounds, counts: make([]atomic.Uint64, len(h.bounds))}
	h.mu.Lock()
	h.shards = append(h.shards, s)
	h.mu.Unlock()
	return s
}

// Observe adds one observation of v. Bucket counts are kept per bucket,
// not cumulatively; Collect adds them up.
func (s *HistogramShard) Observe(v float64) {
	if i, _ := slices.BinarySearch(s.bounds, v); i < len(s.counts) {
		s.counts[i].Add(1)
	} else {
		s.over.Add(1)
	}
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
}

// Describe implements prometheus.Collector.
func (h *ShardedHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector: the shards summed.
func (h *ShardedHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	shards := slices.Clone(h.shards)
	h.mu.Unlock()
	perBucket := make([]uint64, len(h.bounds))
	var over uint64
	var sum float64
	for _, s := range shards {
		over += s.over.Load()
		sum += math.Float64frombits(s.sum.Load())
		for i := range s.counts {
			perBucket[i] += s.counts[i].Load()
		}
	}
	cumulative := make(map[float64]uint64, len(h.bounds))
	var below uint64
	for i, b := range h.bounds {
		below += perBucket[i]
		cumulative[b] = below
	}
	ch <- prometheus.MustNewConstHistogram(h.desc, below+over, sum, cumulative) // the count from the buckets: never below one of them
}
