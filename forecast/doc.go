// Package forecast says when each member of an update run will start and
// finish, before the run starts or while it runs, under stated
// assumptions: how long upgrades take, when people approve gates, and that
// nothing fails.
//
// A forecast cannot disagree with what the run would do: it is the run
// itself (fleetupdate.Step) driven on virtual time by a host that performs
// every command as the assumptions say. Windows, pick order, concurrency
// limits, after-stage waits, scheduled-start gates and version rules all
// come from the run, never from a second model of them.
//
//	f, err := forecast.Run(run, now, forecast.Assumptions{Duration: 45 * time.Minute, ApprovalDelay: 2 * time.Hour})
//	for _, row := range f.Rows { … } // the run, each stage, group and member: start, finish or why not
//
// Run gives one forecast; Percentiles repeats it with upgrade durations
// drawn from a distribution (seeded, so deterministic) and gives the 50th
// and 90th percentiles of every start and finish.
//
// A forecast looks no further than a horizon (a year unless the
// assumptions say otherwise), so it ends for a run that would wait for
// ever: for a gate nobody approves, a window that never opens, a version
// the catalog does not offer. Rows that do not finish say why.
//
// The package imports the standard library and fleetkit's core packages
// only. A property test holds the promise above: across generated
// scenarios, the forecast of a new run, and of a run cut anywhere and
// restored from its persisted form, equals fake.Simulate's run under the
// same assumptions, member by member.
package forecast
