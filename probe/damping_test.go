package probe

import (
	"errors"
	"testing"
	"time"
)

// results folds a sequence of results ('s' success, 'f' failure), one per
// second from start, into a status and returns it with the times the
// target was damped.
func results(seq string, d Damping, start time.Time) (Status, []int) {
	var s Status
	var damped []int
	for i, r := range seq {
		var err error
		if r == 'f' {
			err = errors.New("refused")
		}
		now := start.Add(time.Duration(i) * time.Second)
		s, _ = s.next(err, now, 2, 2, d)
		if s.Damped(now) {
			damped = append(damped, i)
		}
	}
	return s, damped
}

func TestDamping(t *testing.T) {
	d := DampingFor(30*time.Second, 3)
	start := time.Unix(1000, 0)

	if _, damped := results("sssffffffsssss", d, start); len(damped) != 0 {
		t.Errorf("one clean failure and recovery was damped at %v", damped)
	}
	s, damped := results("sfsfsfsfsfsf", d, start)
	if len(damped) == 0 || damped[0] != 3 {
		t.Fatalf("flapping damped at %v, want from the third flip (result 3) on", damped)
	}
	if s.Penalty > d.Max {
		t.Errorf("penalty %.0f above the cap %.0f", s.Penalty, d.Max)
	}
	// Held while the penalty decays, released once it is below Reuse, and
	// no new damping from steady successes.
	last := start.Add(11 * time.Second)
	hold := s.DampedUntil.Sub(last)
	if hold < 30*time.Second || hold > 80*time.Second {
		t.Errorf("held %s after the flapping stopped, want 1.3 to 2.6 half-lives", hold)
	}
	if got := d.decayed(s.Penalty, s.PenaltyAt, s.DampedUntil); got < d.Reuse-1 || got > d.Reuse+1 {
		t.Errorf("penalty at the end of the hold is %.0f, want Reuse %.0f", got, d.Reuse)
	}
	after := s.DampedUntil.Add(time.Second)
	s, changed := s.next(nil, after, 2, 2, d)
	if s.Damped(after) || changed {
		t.Errorf("a success after the hold: damped %v, changed %v", s.Damped(after), changed)
	}
	if _, damped := results("sfsfsfsf", Damping{}, start); len(damped) != 0 {
		t.Errorf("damping off, yet damped at %v", damped)
	}
}
