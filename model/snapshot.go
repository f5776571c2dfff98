package model

import (
	"slices"
	"time"
)

// Snapshot is the state of every hostname at one moment. Outputs read it and
// must not modify it.
type Snapshot struct {
	// Generation grows by one whenever any published set (IPs or TTL) changes.
	Generation uint64
	// Changes holds the times of recent generations, oldest first, so an
	// output can measure how late it reflects each one.
	Changes   []Change
	Taken     time.Time
	Hostnames Decisions
	// Transitions are the latest target health changes, newest last.
	Transitions []Transition
}

// Transition is one change of a target's health.
type Transition struct {
	At        time.Time
	Target    Key
	Hostnames []string
	To        string // healthy or unhealthy
	Reason    Reason
	Detail    string
}

// Change records when a generation was made.
type Change struct {
	Generation uint64
	At         time.Time
}

// ChangesAfter returns the recorded changes newer than generation gen.
func (s *Snapshot) ChangesAfter(gen uint64) []Change {
	i, _ := slices.BinarySearchFunc(s.Changes, gen+1, func(c Change, g uint64) int {
		switch {
		case c.Generation < g:
			return -1
		case c.Generation > g:
			return 1
		}
		return 0
	})
	return s.Changes[i:]
}

// SamePublished reports whether two decisions publish the same IPs and TTL
// for the same owner (which decides where the embedded DNS's wildcards may
// answer).
func SamePublished(a, b Decision) bool {
	if a.Hostname != b.Hostname || a.TTL != b.TTL || a.Owner != b.Owner {
		return false
	}
	i, j := 0, 0 // walks both lists of targets, skipping the unpublished, without a copy
	for {
		for i < len(a.Targets) && !a.Targets[i].Published {
			i++
		}
		for j < len(b.Targets) && !b.Targets[j].Published {
			j++
		}
		if i == len(a.Targets) || j == len(b.Targets) {
			return i == len(a.Targets) && j == len(b.Targets)
		}
		if a.Targets[i].IP != b.Targets[j].IP {
			return false
		}
		i, j = i+1, j+1
	}
}
