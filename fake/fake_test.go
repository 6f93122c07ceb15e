package fake

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
)

var pub = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func smallFleet() *Fleet {
	pools := func(img string) []fleetupdate.NodePool {
		return []fleetupdate.NodePool{{Name: "system", NodeImageVersion: img}}
	}
	return &Fleet{
		Regions:            []string{"eastus", "westeurope", "japaneast"},
		KubernetesVersions: []string{"1.29.4", "1.30.5"},
		NodeImages: []Release{
			{Image: "AKSUbuntu-2204gen2containerd-202402.01.0", Published: pub.AddDate(0, 0, -30)},
			{Image: "AKSUbuntu-2204gen2containerd-202403.01.0", Published: pub},
		},
		Members: []fleetupdate.Member{
			{Name: "a", Group: "g", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools("AKSUbuntu-2204gen2containerd-202402.01.0")},
			{Name: "b", Group: "g", Region: "japaneast", KubernetesVersion: "1.29.4", NodePools: pools("AKSUbuntu-2204gen2containerd-202402.01.0")},
			{Name: "c", Group: "g", Region: "westeurope", KubernetesVersion: "1.30.5", NodePools: pools("AKSUbuntu-2204gen2containerd-202403.01.0")},
		},
	}
}

// "a new node image reaches regions one by one over up to two weeks; old images expire after 90 days".
func TestCatalogRollsOutRegionByRegionAndExpires(t *testing.T) {
	f := smallFleet()
	require.NoError(t, f.Validate())
	newImg := "AKSUbuntu-2204gen2containerd-202403.01.0"
	oldImg := "AKSUbuntu-2204gen2containerd-202402.01.0"
	at := func(d time.Duration) fleetupdate.Catalog { return f.CatalogAt(pub.Add(d)) }
	assert.Contains(t, at(0).Regions["eastus"].NodeImageVersions, newImg, "first region at once")
	assert.NotContains(t, at(0).Regions["westeurope"].NodeImageVersions, newImg)
	assert.Contains(t, at(7 * 24 * time.Hour).Regions["westeurope"].NodeImageVersions, newImg, "middle region after a week")
	assert.NotContains(t, at(7 * 24 * time.Hour).Regions["japaneast"].NodeImageVersions, newImg)
	assert.Contains(t, at(DefaultRollout).Regions["japaneast"].NodeImageVersions, newImg, "last region after two weeks")
	assert.Contains(t, at(59 * 24 * time.Hour).Regions["eastus"].NodeImageVersions, oldImg)
	assert.NotContains(t, at(60 * 24 * time.Hour).Regions["eastus"].NodeImageVersions, oldImg, "90 days after publishing")
	assert.Equal(t, []string{"1.29.4", "1.30.5"}, at(0).Regions["japaneast"].KubernetesVersions)

	changes := f.CatalogChanges(pub.Add(-time.Hour), pub.AddDate(0, 0, 100))
	want := []time.Time{pub, pub.Add(7 * 24 * time.Hour), pub.Add(14 * 24 * time.Hour), pub.AddDate(0, 0, 60), pub.AddDate(0, 0, 90)}
	assert.Equal(t, want, changes)

	f.Members[0].Region = "mars"
	assert.ErrorContains(t, f.Validate(), `"mars"`)
}

func upgrade(op, member string, images ...string) fleetupdate.UpgradeMember {
	u := fleetupdate.UpgradeMember{Op: fleetupdate.OpID(op), Member: member, Type: fleetupdate.Full, KubernetesVersion: "1.30.5"}
	for _, img := range images {
		u.NodeImages = append(u.NodeImages, fleetupdate.PoolImage{Pool: "system", NodeImageVersion: img})
	}
	return u
}

func TestHostOutcomes(t *testing.T) {
	f := smallFleet()
	h := NewHost(f, 1)
	h.Durations = map[string]time.Duration{"b": 2 * time.Hour}
	h.Script = map[string][]Outcome{"a": {{Code: "QuotaExceeded", Message: "no cores", Duration: 5 * time.Minute}}}

	done := h.Perform(upgrade("r/a/1", "a"), pub)
	assert.Equal(t, Completion{pub.Add(5 * time.Minute), fleetupdate.UpgradeFailed{At: pub.Add(5 * time.Minute), Op: "r/a/1", Code: "QuotaExceeded", Message: "no cores"}}, done)
	assert.Equal(t, done, h.Perform(upgrade("r/a/1", "a"), pub.Add(time.Hour)), "idempotent per Op")
	done = h.Perform(upgrade("r/a/2", "a"), pub)
	assert.Equal(t, fleetupdate.UpgradeSucceeded{At: pub.Add(30 * time.Minute), Op: "r/a/2"}, done.Event, "past the script: defaults")

	// The new image is not in japaneast until two weeks after publishing.
	done = h.Perform(upgrade("r/b/1", "b", "AKSUbuntu-2204gen2containerd-202403.01.0"), pub)
	failed, ok := done.Event.(fleetupdate.UpgradeFailed)
	require.True(t, ok)
	assert.Equal(t, fleetupdate.CodeNodeImageVersionNotAvailable, failed.Code)
	done = h.Perform(upgrade("r/b/2", "b", "AKSUbuntu-2204gen2containerd-202403.01.0"), pub.AddDate(0, 0, 14))
	assert.Equal(t, pub.AddDate(0, 0, 14).Add(2*time.Hour), done.At, "per-member duration")

	// Success changes the member once the host is told it was delivered.
	assert.Equal(t, "1.29.4", f.Members[1].KubernetesVersion)
	h.Finish("r/b/2")
	h.Finish("r/b/2")
	assert.Equal(t, "1.30.5", f.Members[1].KubernetesVersion)
	assert.Equal(t, "AKSUbuntu-2204gen2containerd-202403.01.0", f.Members[1].NodePools[0].NodeImageVersion)
	assert.Equal(t, 1, h.Upgrades["b"])
	h.Finish("r/a/1") // a failure changes nothing
	assert.Equal(t, "1.29.4", f.Members[0].KubernetesVersion)
}

func TestHostDrawsFromSeed(t *testing.T) {
	draw := func(seed uint64) []fleetupdate.Event {
		h := NewHost(smallFleet(), seed)
		h.FailureRate, h.Jitter = 0.5, 20*time.Minute
		var out []fleetupdate.Event
		for i := range 20 {
			out = append(out, h.Perform(upgrade(fmt.Sprintf("r/a/%d", i), "a"), pub).Event)
		}
		return out
	}
	assert.Equal(t, draw(7), draw(7), "same seed, same outcomes")
	assert.NotEqual(t, draw(7), draw(8))
	failures := 0
	for _, e := range draw(7) {
		if _, ok := e.(fleetupdate.UpgradeFailed); ok {
			failures++
		}
	}
	assert.Greater(t, failures, 2)
	assert.Less(t, failures, 18)
}

func newRun(t testing.TB, f *Fleet, spec fleetupdate.Spec) fleetupdate.Run {
	t.Helper()
	r, err := fleetupdate.New("sim", spec, f.Members, f.CatalogAt(pub))
	require.NoError(t, err)
	return r
}

var fullTo130 = fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30"}}}

func TestSimulateRunsToTheEndOnVirtualTime(t *testing.T) {
	f := smallFleet()
	h := NewHost(f, 1)
	spec := fullTo130
	spec.ManagedClusterUpdate.NodeImageSelection = &fleetupdate.NodeImageSelection{Type: fleetupdate.Custom,
		CustomNodeImageVersions: []fleetupdate.NodeImageVersion{{Version: "AKSUbuntu-2204gen2containerd-202403.01.0"}}}
	tr := Simulate(newRun(t, f, spec), h, Options{Start: pub})
	assert.Equal(t, fleetupdate.Completed, tr.Run.State())
	// b (japaneast) waits for the custom image to reach its region: two weeks.
	assert.Equal(t, pub.AddDate(0, 0, 14).Add(30*time.Minute), tr.End)
	assert.Equal(t, fleetupdate.Pending, changeOf(tr, "b", fleetupdate.Pending).To)
	assert.Equal(t, "1.30.5", f.Members[0].KubernetesVersion, "the fleet reflects the upgrades")
	assert.Equal(t, map[string]int{"a": 1, "b": 1}, h.Upgrades, "c was already at target")
	// Every entry is in time order.
	for i := 1; i < len(tr.Entries); i++ {
		assert.False(t, tr.Entries[i].At.Before(tr.Entries[i-1].At))
	}
}

func changeOf(tr Trace, member string, to fleetupdate.State) Change {
	for _, e := range tr.Entries {
		for _, c := range e.Changes {
			if c.Member == member && c.To == to {
				return c
			}
		}
	}
	return Change{}
}

func TestSimulateInjectsUserActions(t *testing.T) {
	f := smallFleet()
	h := NewHost(f, 1)
	h.Duration = time.Hour
	tr := Simulate(newRun(t, f, fullTo130), h, Options{Start: pub, Actions: []Action{
		{At: pub.Add(10 * time.Minute), Event: fleetupdate.Stop{}},
		{At: pub.Add(3 * time.Hour), Event: fleetupdate.Skip{Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetMember, Name: "b"}}}},
		{At: pub.Add(4 * time.Hour), Event: fleetupdate.Start{}},
	}})
	require.Equal(t, fleetupdate.Completed, tr.Run.State())
	assert.Equal(t, fleetupdate.Stopping, changeOf(tr, "", fleetupdate.Stopping).To)
	assert.Equal(t, fleetupdate.Stopped, changeOf(tr, "", fleetupdate.Stopped).To)
	assert.Equal(t, fleetupdate.Skipped, changeOf(tr, "b", fleetupdate.Skipped).To)
	assert.Equal(t, pub.Add(4*time.Hour), tr.End, "c is already at target: done at the restart")
}

func TestSimulateIsReproducible(t *testing.T) {
	run := func() Trace {
		f := smallFleet()
		h := NewHost(f, 42)
		h.FailureRate, h.Jitter = 0.3, 10*time.Minute
		return Simulate(newRun(t, f, fullTo130), h, Options{Start: pub})
	}
	a, b := run(), run()
	assert.Equal(t, fmt.Sprint(a.Entries), fmt.Sprint(b.Entries))
}

// Every generated scenario, simulated with a host that never fails, ends
// Completed or Skipped, or waits only on members whose pinned image expired
// or whose window never opens; completed members are at target; nobody is
// upgraded twice.
func TestGeneratedScenariosSimulateSoundly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := Scenarios().Draw(t, "scenario")
		if err := sc.Fleet.Validate(); err != nil {
			t.Fatal(err)
		}
		run, err := sc.NewRun("prop")
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		f := sc.Fleet.Clone()
		h := NewHost(f, 1)
		horizon := GenEpoch.Add(200 * 24 * time.Hour)
		tr := Simulate(run, h, Options{Start: GenEpoch, Horizon: horizon.Sub(GenEpoch)})
		st := tr.Run.Status()
		switch w, owed := tr.Run.NextWake(); {
		case st.Status.State == fleetupdate.Running && owed && w.After(horizon):
			// Windows months apart (or a scheduled start) took it past the
			// horizon: it is still waiting.
		case st.Status.State == fleetupdate.Completed, st.Status.State == fleetupdate.Skipped, st.Status.State == fleetupdate.Pending:
		case st.Status.State == fleetupdate.Failed: // only the version rules may fail a run here (1.28 → 1.30 skips a minor)
			if st.Status.Error == nil || st.Status.Error.Code != "UpgradeNotAllowed" {
				t.Fatalf("run failed: %+v", st.Status.Error)
			}
		default:
			t.Fatalf("run ended %s", st.Status.State)
		}
		target, _ := kversion.Parse("1.30")
		for _, s := range st.Stages {
			for _, g := range s.Groups {
				for _, m := range g.Members {
					if h.Upgrades[m.Name] > 1 {
						t.Fatalf("%s upgraded %d times", m.Name, h.Upgrades[m.Name])
					}
					if st.Status.State == fleetupdate.Pending && m.Status.State == fleetupdate.Pending && m.Message == "" {
						t.Fatalf("%s is Pending without a reason", m.Name)
					}
					if m.Status.State != fleetupdate.Completed || sc.Spec.ManagedClusterUpdate.Upgrade.Type == fleetupdate.NodeImageOnly {
						continue
					}
					v, _ := kversion.Parse(f.member(m.Name).KubernetesVersion)
					if v.Minor != target.Minor {
						t.Fatalf("%s completed at %s", m.Name, v)
					}
				}
			}
		}
	})
}

// A crash loses the host's timers and undelivered outcomes, not the
// upgrades running on the clusters: the restarted host rebuilds the run,
// performs Outstanding at the time of the crash, and the host answers each
// re-sent op as it did the first time. The run ends as if nothing happened.
func TestSimulateRestartsTheHost(t *testing.T) {
	spec := fullTo130
	spec.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
		{Name: "one", AfterStageWaitInSeconds: 3600, Groups: []fleetupdate.Group{{Name: "g"}}},
	}}
	simulate := func(opt Options) (Trace, *Host) {
		f := smallFleet()
		h := NewHost(f.Clone(), 1) // the run must not share member data with the fleet the host upgrades
		opt.Start = pub
		return Simulate(newRun(t, f, spec), h, opt), h
	}
	want, wantHost := simulate(Options{})
	require.Equal(t, fleetupdate.Completed, want.Run.State())
	require.Len(t, want.Upgrades, 2, "a and b; c is at target")
	require.Empty(t, want.Restarts)

	for _, from := range []Rebuild{FromSnapshot, FromJournal} {
		for _, lose := range []bool{false, true} {
			name := fmt.Sprintf("rebuild=%d/crashBeforePerform=%v", from, lose)
			t.Run(name, func(t *testing.T) {
				tr, h := simulate(Options{RestartAfter: []int{1, 3}, Rebuild: from, CrashBeforePerform: lose})
				require.Len(t, tr.Restarts, 2)
				first := tr.Restarts[0]
				assert.Equal(t, 1, first.After)
				assert.Equal(t, pub, first.At, "no time passes")
				assert.NoError(t, first.Err)
				startA := tr.Entries[0].Commands[0].(fleetupdate.UpgradeMember)
				assert.Equal(t, []fleetupdate.Command{startA}, first.Outstanding, "a is in flight")
				if lose {
					assert.Equal(t, tr.Entries[0].Commands, first.Lost)
					assert.Equal(t, []Upgrade{{At: pub, Command: startA, Restart: true}}, tr.Upgrades[:1], "sent only by the restarted host")
				} else {
					assert.Empty(t, first.Lost)
					assert.Equal(t, []Upgrade{{At: pub, Command: startA}, {At: pub, Command: startA, Restart: true}}, tr.Upgrades[:2], "sent, then sent again")
				}
				mustJSON := func(s fleetupdate.Status) string {
					b, err := json.Marshal(s)
					require.NoError(t, err)
					return string(b)
				}
				assert.Equal(t, mustJSON(want.Run.Status()), mustJSON(tr.Run.Status()))
				assert.Equal(t, want.End, tr.End)
				assert.Equal(t, wantHost.Upgrades, h.Upgrades, "each upgrade took effect once")
			})
		}
	}
}

// A slow host ticks late; the run still ends, later by the delay.
func TestSimulateTickDelay(t *testing.T) {
	spec := fullTo130
	spec.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
		{Name: "one", AfterStageWaitInSeconds: 3600, Groups: []fleetupdate.Group{{Name: "g"}}},
	}}
	f := smallFleet()
	tr := Simulate(newRun(t, f, spec), NewHost(f, 1), Options{Start: pub, TickDelay: 10 * time.Minute})
	require.Equal(t, fleetupdate.Completed, tr.Run.State())
	last := tr.Entries[len(tr.Entries)-1]
	assert.Equal(t, fleetupdate.Tick{At: pub.Add(time.Hour + time.Hour + 10*time.Minute)}, last.Event, "two upgrades of 30 minutes, the hour's wait, the delay")
}

// A host with one timer, re-armed at NextWake after every step, ticks only
// when the run needs it and ends the run as a host that arms every WakeAt.
func TestSimulateSingleTimer(t *testing.T) {
	f := bigFleet(60)
	start := pub.AddDate(0, 0, 20)
	simulate := func(opt Options) Trace {
		opt.Start = start
		return Simulate(newRun(t, f, bigSpec), NewHost(f.Clone(), 1), opt)
	}
	every, single := simulate(Options{}), simulate(Options{SingleTimer: true})
	require.Equal(t, fleetupdate.Completed, every.Run.State())
	assert.Equal(t, every.Run.Status(), single.Run.Status())
	assert.Equal(t, every.Upgrades, single.Upgrades)
	ticks := func(tr Trace) (n int) {
		for _, e := range tr.Entries {
			if _, ok := e.Event.(fleetupdate.Tick); ok {
				n++
			}
		}
		return n
	}
	assert.Positive(t, ticks(single))
	assert.LessOrEqual(t, ticks(single), ticks(every))
}
