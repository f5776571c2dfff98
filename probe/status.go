package probe

import "time"

// State is what the probes say of a target.
type State int

// Unknown until the first probe round ends; that first result decides the
// state, later ones move it only after rise or fall consecutive results.
const (
	Unknown State = iota
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	default:
		return "unknown"
	}
}

// Status is the probe history of one target that health decisions need.
type Status struct {
	State State
	// Successes and Failures count consecutive results; one is always 0.
	Successes, Failures int
	LastError           string
	LastProbe           time.Time
	LastTransition      time.Time
	// Rounds counts the probe rounds recorded, so that a reader can tell
	// which results came after a moment it remembers.
	Rounds uint64
	// Penalty is the flap damping penalty as of PenaltyAt; DampedUntil,
	// when after now, is when a damped target may return.
	Penalty     float64
	PenaltyAt   time.Time
	DampedUntil time.Time
}

// Damped reports whether the target is held withdrawn for flapping at now.
func (s Status) Damped(now time.Time) bool { return s.DampedUntil.After(now) }

// next folds one probe result into the status. It reports whether the state
// changed, or damping began.
func (s Status) next(err error, now time.Time, rise, fall int, d Damping) (Status, bool) {
	flipped := (err == nil && s.Failures > 0) || (err != nil && s.Successes > 0)
	wasDamped := s.Damped(now)
	if flipped && d.HalfLife > 0 {
		s = d.flip(s, now)
	}
	s.LastProbe = now
	s.Rounds++
	if err == nil {
		s.Successes++
		s.Failures = 0
		s.LastError = ""
	} else {
		s.Failures++
		s.Successes = 0
		s.LastError = err.Error()
	}
	old := s.State
	switch {
	case s.State == Unknown && err == nil, s.State == Down && s.Successes >= rise:
		s.State = Up
	case s.State == Unknown && err != nil, s.State == Up && s.Failures >= fall:
		s.State = Down
	}
	if s.State != old {
		s.LastTransition = now
		return s, true
	}
	return s, !wasDamped && s.Damped(now)
}
