package probe

import (
	"math"
	"time"
)

// FlipPenalty is the penalty one flip of a target's probe result adds (a
// success after a failure, or a failure after a success).
const FlipPenalty = 1000

// Damping holds a target whose probe results keep flipping withdrawn, as
// BGP's route flap damping does (RFC 2439): each flip adds FlipPenalty,
// the penalty halves every HalfLife, and once it is above Suppress the
// target stays damped until it has decayed below Reuse. Max caps the
// penalty, and so the longest hold. A zero HalfLife turns damping off.
type Damping struct {
	HalfLife             time.Duration
	Suppress, Reuse, Max float64
}

// DampingFor returns damping that holds a target after flips result flips
// in quick succession: one clean failure and recovery (two flips) is never
// damped when flips > 2. After the flapping stops, a damped target is held
// for about 1.3 to 2.6 half-lives.
func DampingFor(halfLife time.Duration, flips int) Damping {
	if halfLife <= 0 || flips < 1 {
		return Damping{}
	}
	return Damping{HalfLife: halfLife, Suppress: (float64(flips) - 0.5) * FlipPenalty, Reuse: FlipPenalty,
		Max: 2 * float64(flips) * FlipPenalty}
}

// decayed returns the penalty at now.
func (d Damping) decayed(penalty float64, since, now time.Time) float64 {
	if penalty == 0 || !now.After(since) {
		return penalty
	}
	return penalty * math.Exp2(-float64(now.Sub(since))/float64(d.HalfLife))
}

// flip adds one flip's penalty at now and returns the status with its
// penalty and damping updated.
func (d Damping) flip(s Status, now time.Time) Status {
	p := min(d.decayed(s.Penalty, s.PenaltyAt, now)+FlipPenalty, d.Max)
	s.Penalty, s.PenaltyAt = p, now
	if p > d.Suppress || s.DampedUntil.After(now) {
		// No more flips: the penalty reaches Reuse after log2(p/Reuse)
		// half-lives.
		s.DampedUntil = now.Add(time.Duration(math.Log2(p/d.Reuse) * float64(d.HalfLife)))
	}
	return s
}
