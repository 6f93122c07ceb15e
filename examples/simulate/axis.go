package main

import (
	"math"
	"slices"
	"time"
)

// interval is a stretch of virtual time.
type interval struct{ from, to time.Time }

// piece is one stretch of the time axis: drawn to scale, or, for a long
// idle span (nothing running), compressed to a fixed width with a break
// marker and its real length written in it.
type piece struct {
	interval
	x0, x1     float64
	compressed bool
}

// timeAxis maps virtual time to x. Busy time (some member upgrading) is
// drawn to one scale; idle spans too, unless that would make them wider
// than gapWidth, in which case they take gapWidth. So an upgrade of
// minutes stays visible next to weeks of waiting for windows.
type timeAxis struct {
	pieces []piece
	scale  float64 // px per second of the pieces drawn to scale
	start  time.Time
}

// Widths on the time axis, in px.
const (
	gapWidthMax = 56.0 // a compressed idle span, room for its length ("29d 20h")
	gapWidthMin = 18.0 // when many spans share the width
	gapShare    = 0.35 // of the plot, at most, for compressed spans
)

// newAxis lays [start, end] over width px from x0; busy are the stretches
// when something runs.
func newAxis(start, end time.Time, busy []interval, x0, width float64) timeAxis {
	spans := split(start, end, busy)
	var busySec float64
	var idle []float64
	for _, s := range spans {
		if s.busy {
			busySec += s.to.Sub(s.from).Seconds()
		} else {
			idle = append(idle, s.to.Sub(s.from).Seconds())
		}
	}
	total := end.Sub(start).Seconds()
	gap := math.Inf(1) // nothing busy: nothing to make room for
	if busySec > 0 && len(idle) > 0 {
		gap = min(gapWidthMax, max(gapWidthMin, gapShare*width/float64(len(idle))))
	}
	// The scale s solves s·busy + Σ min(s·idle, gap) = width; the left
	// side grows with s, so bisection finds it. With nothing busy, or no
	// idle span worth compressing, the axis is linear.
	scale := width / total
	if busySec > 0 {
		lo, hi := 0.0, width/busySec
		for range 64 {
			mid := (lo + hi) / 2
			w := mid * busySec
			for _, d := range idle {
				w += min(mid*d, gap)
			}
			if w < width {
				lo = mid
			} else {
				hi = mid
			}
		}
		scale = max(scale, lo)
	}
	a := timeAxis{scale: scale, start: start}
	x := x0
	for _, s := range spans {
		w := s.to.Sub(s.from).Seconds() * scale
		p := piece{interval: s.interval, x0: x}
		if !s.busy && w > gap {
			w, p.compressed = gap, true
		}
		x += w
		p.x1 = x
		a.pieces = append(a.pieces, p)
	}
	return a
}

// span is a stretch of the axis, busy or idle.
type span struct {
	interval
	busy bool
}

// split cuts [start, end] into busy and idle spans, in time order: busy
// where any of busy covers it, idle elsewhere.
func split(start, end time.Time, busy []interval) []span {
	busy = slices.Clone(busy)
	slices.SortFunc(busy, func(a, b interval) int { return a.from.Compare(b.from) })
	var out []span
	idle := func(from, to time.Time) {
		if to.After(from) {
			out = append(out, span{interval{from, to}, false})
		}
	}
	cur := start
	for _, b := range busy {
		from, to := maxTime(b.from, cur), minTime(b.to, end)
		if !to.After(from) {
			continue
		}
		idle(cur, from)
		if n := len(out); n > 0 && out[n-1].busy && out[n-1].to.Equal(from) {
			out[n-1].to = to
		} else {
			out = append(out, span{interval{from, to}, true})
		}
		cur = to
	}
	idle(cur, end)
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// x is where t is on the axis; times outside it are clamped to its ends.
func (a timeAxis) x(t time.Time) float64 {
	i, _ := slices.BinarySearchFunc(a.pieces, t, func(p piece, t time.Time) int { return p.to.Compare(t) })
	if i == len(a.pieces) {
		return a.pieces[i-1].x1
	}
	p := a.pieces[i]
	if !t.After(p.from) {
		return p.x0
	}
	return p.x0 + (p.x1-p.x0)*t.Sub(p.from).Seconds()/p.to.Sub(p.from).Seconds()
}

// tickSteps are the spacings the axis may tick at.
var tickSteps = []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour}

// step is the smallest tick spacing at least minPx apart at the axis's scale.
func (a timeAxis) step(minPx float64) time.Duration {
	for _, s := range tickSteps {
		if s.Seconds()*a.scale >= minPx {
			return s
		}
	}
	return tickSteps[len(tickSteps)-1]
}

// ticks are the times, every step from midnight (UTC) of the start's day,
// that fall in the pieces drawn to scale.
func (a timeAxis) ticks(step time.Duration) []time.Time {
	base := a.start.Truncate(24 * time.Hour)
	var out []time.Time
	for _, p := range a.pieces {
		if p.compressed {
			continue
		}
		n := (p.from.Sub(base) + step - 1) / step
		for t := base.Add(n * step); !t.After(p.to); t = t.Add(step) {
			if len(out) == 0 || t.After(out[len(out)-1]) {
				out = append(out, t)
			}
		}
	}
	return out
}
