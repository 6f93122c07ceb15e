package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Distribution is the spread of many forecasts of one run, each with
// upgrade durations drawn at random (Assumptions.P90Factor). Its JSON is a
// stable, documented format.
type Distribution struct {
	Run         string    `json:"run"`
	From        time.Time `json:"from"`
	Horizon     time.Time `json:"horizon"`
	Assumptions string    `json:"assumptions"`
	Simulations int       `json:"simulations"` // forecasts made
	Seed        uint64    `json:"seed"`        // the seed they were drawn with
	// Rows are in the order of Forecast.Rows.
	Rows []Spread `json:"rows"`
}

// Spread is the distribution of one row's start and finish over the
// simulations. Stage, Group and Member name the row as in Row.
type Spread struct {
	Stage  string    `json:"stage,omitempty"`
	Group  string    `json:"group,omitempty"`
	Member string    `json:"member,omitempty"`
	Start  Quantiles `json:"start"`
	Finish Quantiles `json:"finish"`
	// Finished counts the simulations in which it finished within the
	// forecast.
	Finished int `json:"finished"`
}

// Quantiles are the 50th and 90th percentiles of a time over the
// simulations, by nearest rank: the p-th percentile of n values is the
// ceil(p×n)-th smallest. A time that did not come within a simulation
// counts as later than any; a percentile that falls on one is zero (JSON:
// left out), meaning "not within the forecast".
type Quantiles struct {
	P50 time.Time `json:"p50,omitzero"`
	P90 time.Time `json:"p90,omitzero"`
}

// z90 is the 90th percentile of the standard normal distribution.
const z90 = 1.2815515655446004

// maxDraw is the largest float64 below 2^63: the longest Duration a draw
// can convert to.
const maxDraw = 1<<63 - 1<<10

// Percentiles makes n forecasts of r from now, as Run does, each with every
// upgrade's duration drawn from a log-normal distribution whose median is
// the assumed duration and whose 90th percentile is P90Factor times it (an
// upgrade in flight at now is drawn too), and returns the percentiles of
// every start and finish. The draws come from math/rand/v2's PCG seeded
// with seed and the simulation's index, in the order the run asks for
// upgrades, so the same inputs give the same Distribution. It costs n
// forecasts' time and keeps n starts and finishes per row.
func Percentiles(r fleetupdate.Run, now time.Time, a Assumptions, n int, seed uint64) (Distribution, error) {
	if err := a.validate(); err != nil {
		return Distribution{}, err
	}
	if n < 1 {
		return Distribution{}, fmt.Errorf("forecast: %d simulations: want at least 1", n)
	}
	now = now.UTC() // as Run
	sigma := 0.0
	if a.P90Factor > 1 {
		sigma = math.Log(a.P90Factor) / z90
	}
	base := median(a)
	var rows []Row
	var starts, finishes [][]time.Time // per row, per simulation; zero when it does not come
	for i := range n {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		dur := func(c fleetupdate.UpgradeMember) (time.Duration, error) {
			d, err := base(c)
			if err != nil || sigma == 0 {
				return d, err
			}
			f := float64(d) * math.Exp(sigma*rng.NormFloat64())
			// Whole seconds read better. A draw is at most maxDraw:
			// float64(math.MaxInt64) is 2^63, which converts to a
			// negative Duration.
			return time.Duration(min(f, maxDraw)).Round(time.Second), nil
		}
		end, err := sim(r, now, a, dur)
		if err != nil {
			return Distribution{}, err
		}
		rows = end.rows()
		if starts == nil {
			starts, finishes = make([][]time.Time, len(rows)), make([][]time.Time, len(rows))
			// Sized for n up to a bound: for a larger n they grow as the
			// simulations come (a cap of n could panic in makeslice).
			c := min(n, 1<<12)
			for k := range rows {
				starts[k], finishes[k] = make([]time.Time, 0, c), make([]time.Time, 0, c)
			}
		}
		for k, row := range rows {
			starts[k] = append(starts[k], row.Start)
			finishes[k] = append(finishes[k], row.Finish)
		}
	}
	out := Distribution{Run: r.Name(), From: now, Horizon: now.Add(a.horizon()), Assumptions: a.String(), Simulations: n, Seed: seed, Rows: make([]Spread, len(rows))}
	for k, row := range rows {
		s := Spread{Stage: row.Stage, Group: row.Group, Member: row.Member, Start: quantiles(starts[k]), Finish: quantiles(finishes[k])}
		for _, f := range finishes[k] {
			if !f.IsZero() {
				s.Finished++
			}
		}
		out.Rows[k] = s
	}
	return out, nil
}

// quantiles sorts v (the zero time, which did not come, after every other)
// and reads its 50th and 90th percentiles.
func quantiles(v []time.Time) Quantiles {
	slices.SortFunc(v, func(a, b time.Time) int {
		if a.IsZero() != b.IsZero() {
			if a.IsZero() {
				return 1
			}
			return -1
		}
		return a.Compare(b)
	})
	at := func(p float64) time.Time { return v[int(math.Ceil(p*float64(len(v))))-1] }
	return Quantiles{P50: at(0.5), P90: at(0.9)}
}
