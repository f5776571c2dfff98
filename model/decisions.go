package model

import (
	"iter"
	"slices"
	"sort"
)

// chunkSize is how many decisions a chunk of Decisions holds after it was
// rebuilt (at most twice that before it is split). A change of one hostname
// copies one chunk and the list of chunk pointers: about 40 KB and 8 bytes
// per 128 hostnames, instead of every decision.
const chunkSize = 64

// Decisions is every hostname's decision, sorted by hostname, kept in
// chunks that successive snapshots share: a snapshot in which a few
// hostnames were decided anew holds new copies of their chunks only, so a
// change costs the same work (and garbage) among 100,000 Services as among
// ten. It is immutable; the zero value is empty.
type Decisions struct {
	chunks   []*decisionChunk
	n        int
	unsorted bool // NewDecisions was given a list out of order (tests do)
}

// decisionChunk is a sorted run of decisions, never modified once made.
type decisionChunk struct {
	ds []Decision
}

// NewDecisions holds a list of decisions sorted by hostname.
func NewDecisions(sorted []Decision) Decisions {
	var d Decisions
	for i := 1; i < len(sorted) && !d.unsorted; i++ {
		d.unsorted = sorted[i-1].Hostname >= sorted[i].Hostname
	}
	for len(sorted) > 0 {
		n := min(chunkSize, len(sorted))
		d.chunks = append(d.chunks, &decisionChunk{ds: slices.Clone(sorted[:n])})
		d.n += n
		sorted = sorted[n:]
	}
	return d
}

// Len is the number of hostnames.
func (d Decisions) Len() int { return d.n }

// All yields every decision in hostname order.
func (d Decisions) All() iter.Seq[Decision] {
	return func(yield func(Decision) bool) {
		for _, c := range d.chunks {
			for _, x := range c.ds {
				if !yield(x) {
					return
				}
			}
		}
	}
}

// Slice returns a copy of every decision, in order.
func (d Decisions) Slice() []Decision {
	out := make([]Decision, 0, d.n)
	for _, c := range d.chunks {
		out = append(out, c.ds...)
	}
	return out
}

// Find returns the decision of a hostname.
func (d Decisions) Find(hostname string) (Decision, bool) {
	i := d.chunkOf(hostname)
	if i == len(d.chunks) {
		return Decision{}, false
	}
	ds := d.chunks[i].ds
	j := sort.Search(len(ds), func(j int) bool { return ds[j].Hostname >= hostname })
	if j < len(ds) && ds[j].Hostname == hostname {
		return ds[j], true
	}
	return Decision{}, false
}

// chunkOf is the index of the chunk whose range holds hostname: the first
// chunk whose last hostname is not below it (len(chunks) if none).
func (d Decisions) chunkOf(hostname string) int {
	return sort.Search(len(d.chunks), func(i int) bool {
		ds := d.chunks[i].ds
		return ds[len(ds)-1].Hostname >= hostname
	})
}

// Replace returns the decisions with those of the decided hostnames (sorted)
// replaced by decisions (sorted): a decided hostname without a new decision
// is gone. Chunks no decided hostname falls into are shared with d.
func (d Decisions) Replace(decided []string, decisions []Decision) Decisions {
	if len(decided) == 0 && len(decisions) == 0 {
		return d
	}
	out := Decisions{chunks: make([]*decisionChunk, 0, len(d.chunks)+1), unsorted: d.unsorted}
	i, j := 0, 0 // the next decided hostname, the next new decision
	for ci, c := range d.chunks {
		i2, j2 := len(decided), len(decisions) // the last chunk takes every hostname after it
		if last := c.ds[len(c.ds)-1].Hostname; ci < len(d.chunks)-1 {
			if (i == len(decided) || decided[i] > last) && (j == len(decisions) || decisions[j].Hostname > last) {
				out.add(c) // the common case, without a search
				continue
			}
			i2, j2 = i+upTo(decided[i:], last), j+upToDecision(decisions[j:], last)
		}
		if i2 == i && j2 == j {
			out.add(c)
			continue
		}
		out.addMerged(mergeDecisions(c.ds, decided[i:i2], decisions[j:j2]))
		i, j = i2, j2
	}
	if len(d.chunks) == 0 {
		out.addMerged(slices.Clone(decisions))
	}
	return out
}

// upTo counts the sorted hostnames up to and including last.
func upTo(hostnames []string, last string) int {
	n, _ := slices.BinarySearch(hostnames, last)
	if n < len(hostnames) && hostnames[n] == last {
		n++
	}
	return n
}

func upToDecision(ds []Decision, last string) int {
	return sort.Search(len(ds), func(i int) bool { return ds[i].Hostname > last })
}

func (d *Decisions) add(c *decisionChunk) {
	d.chunks = append(d.chunks, c)
	d.n += len(c.ds)
}

// addMerged adds a rebuilt run: dropped when empty, split when it grew
// past two chunks' worth, merged into the previous chunk when both are
// small, so chunks stay between a quarter and twice chunkSize.
func (d *Decisions) addMerged(ds []Decision) {
	if len(ds) == 0 {
		return
	}
	if k := len(d.chunks); k > 0 && len(ds) < chunkSize/4 && len(d.chunks[k-1].ds)+len(ds) <= chunkSize {
		prev := d.chunks[k-1]
		d.chunks = d.chunks[:k-1]
		d.n -= len(prev.ds)
		ds = append(slices.Clone(prev.ds), ds...)
	}
	for len(ds) > 2*chunkSize {
		d.add(&decisionChunk{ds: ds[:chunkSize:chunkSize]})
		ds = ds[chunkSize:]
	}
	d.add(&decisionChunk{ds: ds})
}

// mergeDecisions is one chunk's decisions with the decided hostnames'
// replaced by the new ones, in a new slice.
func mergeDecisions(prev []Decision, decided []string, decisions []Decision) []Decision {
	out := make([]Decision, 0, len(prev)+len(decisions))
	i, j := 0, 0
	for i < len(prev) || j < len(decisions) {
		switch {
		case j == len(decisions) || i < len(prev) && prev[i].Hostname < decisions[j].Hostname:
			if _, found := slices.BinarySearch(decided, prev[i].Hostname); !found {
				out = append(out, prev[i])
			}
			i++
		case i == len(prev) || decisions[j].Hostname < prev[i].Hostname:
			out = append(out, decisions[j])
			j++
		default: // the same hostname: decided anew
			out = append(out, decisions[j])
			i++
			j++
		}
	}
	return out
}

// Diff calls f for every hostname whose decision may differ between prev
// and d, in hostname order: old nil when it came, cur nil when it went.
// Hostnames in chunks both share are skipped without a look, so the work
// follows the change, not the size.
func (d Decisions) Diff(prev Decisions, f func(old, cur *Decision)) {
	o, c := cursor{chunks: prev.chunks}, cursor{chunks: d.chunks}
	for !o.done() || !c.done() {
		if o.at == 0 && c.at == 0 && !o.done() && !c.done() && o.chunks[0] == c.chunks[0] {
			o.chunks, c.chunks = o.chunks[1:], c.chunks[1:]
			continue
		}
		switch {
		case c.done() || !o.done() && o.head().Hostname < c.head().Hostname:
			f(o.head(), nil)
			o.next()
		case o.done() || c.head().Hostname < o.head().Hostname:
			f(nil, c.head())
			c.next()
		default:
			f(o.head(), c.head())
			o.next()
			c.next()
		}
	}
}

// cursor walks the decisions of a list of chunks.
type cursor struct {
	chunks []*decisionChunk
	at     int
}

func (c *cursor) done() bool      { return len(c.chunks) == 0 }
func (c *cursor) head() *Decision { return &c.chunks[0].ds[c.at] }
func (c *cursor) next() {
	if c.at++; c.at == len(c.chunks[0].ds) {
		c.chunks, c.at = c.chunks[1:], 0
	}
}

// Sorted reports whether the hostnames are in strictly increasing order,
// as every list the controller makes is: NewDecisions checks the list it
// is given (only tests give others), Replace keeps the order.
func (d Decisions) Sorted() bool { return !d.unsorted }
