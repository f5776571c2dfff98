package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// referenceReplace is Replace on a plain sorted slice.
func referenceReplace(prev []Decision, decided []string, decisions []Decision) []Decision {
	var out []Decision
	for _, d := range prev {
		if !slices.Contains(decided, d.Hostname) {
			out = append(out, d)
		}
	}
	out = append(out, decisions...)
	slices.SortFunc(out, func(a, b Decision) int { return compareHostnames(a.Hostname, b.Hostname) })
	return out
}

func compareHostnames(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func hostname(i int) string { return fmt.Sprintf("h%05d.example.com", i) }

// TestDecisionsReplaceAndDiff changes random hostnames of a list, again and
// again, and compares it with a plain slice: the same decisions in the same
// order, found by Find, and Diff names every hostname that came, went or
// was decided anew, visiting few chunks when few changed.
func TestDecisionsReplaceAndDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ref []Decision
	var list Decisions
	pass := uint64(0)
	for round := range 400 {
		pass++
		var decided []string
		var decisions []Decision
		n := 1 + rng.IntN(5)
		if round%50 == 0 {
			n = 300 // a storm: chunks split
		}
		if round%97 == 0 {
			n = 1000 // a wide one: many chunks shrink or vanish
		}
		seen := map[int]bool{}
		for range n {
			h := rng.IntN(3000)
			if seen[h] {
				continue
			}
			seen[h] = true
			decided = append(decided, hostname(h))
			if rng.IntN(4) > 0 || round%97 != 0 { // the wide round mostly deletes
				decisions = append(decisions, Decision{Hostname: hostname(h), Pass: pass})
			}
		}
		slices.Sort(decided)
		slices.SortFunc(decisions, func(a, b Decision) int { return compareHostnames(a.Hostname, b.Hostname) })

		next := list.Replace(decided, decisions)
		ref = referenceReplace(ref, decided, decisions)
		if got := next.Slice(); !slices.EqualFunc(got, ref, func(a, b Decision) bool { return a.Hostname == b.Hostname && a.Pass == b.Pass }) || next.Len() != len(ref) {
			t.Fatalf("round %d: %d decisions, want %d", round, next.Len(), len(ref))
		}
		if !next.Sorted() {
			t.Fatalf("round %d: not sorted", round)
		}
		for _, c := range next.chunks {
			if len(c.ds) == 0 || len(c.ds) > 2*chunkSize {
				t.Fatalf("round %d: a chunk of %d", round, len(c.ds))
			}
		}
		for _, d := range decisions {
			if got, ok := next.Find(d.Hostname); !ok || got.Pass != pass {
				t.Fatalf("round %d: Find(%s) = %v, %v", round, d.Hostname, got, ok)
			}
		}
		if _, ok := next.Find("zzz"); ok {
			t.Fatal("Find found a hostname that is not there")
		}

		// Diff must name every change; what it calls kept must be equal.
		changed := map[string]bool{}
		visited := 0
		next.Diff(list, func(old, cur *Decision) {
			visited++
			switch {
			case old == nil:
				changed[cur.Hostname] = true
			case cur == nil:
				changed[old.Hostname] = true
			case old.Hostname != cur.Hostname:
				t.Fatalf("round %d: Diff paired %s with %s", round, old.Hostname, cur.Hostname)
			case old.Pass != cur.Pass:
				changed[cur.Hostname] = true
			}
		})
		for _, h := range decided {
			_, before := list.Find(h)
			_, after := next.Find(h)
			if (before || after) && !changed[h] {
				t.Fatalf("round %d: Diff missed %s", round, h)
			}
		}
		if n <= 5 && list.Len() > 2000 && visited > 5*2*chunkSize+2*chunkSize {
			t.Fatalf("round %d: Diff visited %d decisions for %d changes", round, visited, n)
		}
		list = next
	}
}

func TestDecisionsEmpty(t *testing.T) {
	var d Decisions
	if d.Len() != 0 || len(d.Slice()) != 0 {
		t.Fatal("the zero value is not empty")
	}
	if _, ok := d.Find("a"); ok {
		t.Fatal("found in an empty list")
	}
	d = d.Replace([]string{"a"}, nil)
	if d.Len() != 0 {
		t.Fatal("deleting from an empty list made something")
	}
	d = d.Replace([]string{"b", "a"}[1:], []Decision{{Hostname: "a"}})
	if got, ok := d.Find("a"); !ok || got.Hostname != "a" {
		t.Fatal("the first decision was not added")
	}
	d = d.Replace([]string{"a"}, nil)
	if d.Len() != 0 || len(d.chunks) != 0 {
		t.Fatalf("deleting the last hostname left %d decisions in %d chunks", d.Len(), len(d.chunks))
	}
}

// BenchmarkDecisionsReplaceOne is one hostname decided anew among 10,000.
func BenchmarkDecisionsReplaceOne(b *testing.B) {
	all := make([]Decision, 10000)
	for i := range all {
		all[i] = Decision{Hostname: hostname(i), Targets: make([]TargetDecision, 10)}
	}
	list := NewDecisions(all)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h := hostname(i % len(all))
		list = list.Replace([]string{h}, []Decision{{Hostname: h, Pass: uint64(i)}})
	}
}
