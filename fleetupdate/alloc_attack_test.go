package fleetupdate

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Attacks on what a step carves from its lineages' chunks (stepper.cmdRoom,
// mutBucket, setGroupCold): a value a step returned, in a run or as a
// command, is never changed afterwards, by any step of any version or by a
// host writing to its commands, and the shared cold parts (noGroupCold, the
// one a stage's groups start with) are never written.

// frozen holds, for every group cold part and bucket record a returned run
// reached, its value when first seen: it must never change.
type frozen struct {
	cold map[*groupCold]frozenCold
	bks  map[*bucketRec]bucketRec
}

type frozenCold struct {
	c    groupCold
	wait []int32 // *c.catalogWait
}

func newFrozen() *frozen {
	return &frozen{cold: map[*groupCold]frozenCold{}, bks: map[*bucketRec]bucketRec{}}
}

func (f *frozen) note(r Run) {
	r.s.groups.each(func(_ int, gr *groupRec) {
		if _, ok := f.cold[gr.groupCold]; !ok {
			f.cold[gr.groupCold] = frozenCold{*gr.groupCold, slices.Clone(gr.waiting())}
		}
		gr.buckets.each(func(_ int, bk *bucketRec) {
			if _, ok := f.bks[bk]; !ok {
				f.bks[bk] = *bk
			}
		})
	})
}

func (f *frozen) check(t fataler, what string) {
	for p, was := range f.cold {
		if w := (&groupRec{groupCold: p}).waiting(); *p != was.c || !slices.Equal(was.wait, w) {
			t.Fatalf("%s: a group's cold part a run returned changed: %+v (waiting %v), was %+v (waiting %v)", what, *p, w, was.c, was.wait)
		}
	}
	for p, was := range f.bks {
		if *p != was {
			t.Fatalf("%s: a bucket record a run returned changed: %+v, was %+v", what, *p, was)
		}
	}
	if noGroupCold != (groupCold{}) {
		t.Fatalf("%s: noGroupCold was written: %+v", what, noGroupCold)
	}
}

// keptCmds is a step's commands as the host left them.
type keptCmds struct {
	cmds []Command
	was  string
}

// abortWrites is a step that changes a group's cold part and a bucket and
// emits a command, then is refused: what it carved is nobody's.
func abortWrites(r Run, g int32) {
	var b stepper
	b.init(r)
	b.setState(b.p.groups[g].members[0], Skipped) // claims the members lineage
	b.setGroupCold(b.mutGroup(g), func(c *groupCold) { c.userSkipped, c.end = true, b.s.clock.Add(time.Hour) })
	if b.group(g).buckets.n > 0 {
		b.mutBucket(g, 0).reached = true
	}
	b.emit(WakeAt{At: b.s.clock.Add(time.Hour)})
	b.abort()
}

// Versions of a run stepped in any order, some after an encode/decode round
// trip, with steps aborted after their writes, while the host overwrites
// and appends to the commands it gets: no cold part, bucket record or
// command a step returned changes afterwards, and noGroupCold stays zero.
func TestCarvedValuesStayTheirOwn(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		r, err := New("run-1", sc.spec, sc.members, sc.catalog)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		fz := newFrozen()
		fz.note(r)
		versions := []Run{r}
		var kept []keptCmds
		var ops []OpID
		now := t0
		for step := range rapid.IntRange(1, 60).Draw(t, "steps") {
			base := versions[len(versions)-1]
			if rapid.IntRange(0, 2).Draw(t, "older") == 0 {
				base = versions[rapid.IntRange(0, len(versions)-1).Draw(t, "base")]
			}
			switch rapid.IntRange(0, 5).Draw(t, "detour") {
			case 0:
				base = decoded(t, mustJSONT(t, base))
				fz.note(base)
			case 1:
				if g := rapid.IntRange(0, len(base.p.groups)).Draw(t, "abortGroup"); g < len(base.p.groups) && len(base.p.groups[g].members) > 0 {
					abortWrites(base, int32(g))
				}
			}
			now = now.Add(time.Duration(rapid.IntRange(0, 6*60).Draw(t, "minutes")) * time.Minute)
			e := genAnyEvent(t, sc, base, ops, now)
			next, cmds, err := Step(base, e)
			if err != nil {
				continue
			}
			fz.note(next)
			ops = addOps(ops, cmds)
			if len(cmds) > 0 {
				switch rapid.IntRange(0, 2).Draw(t, "host") {
				case 0:
					cmds[0] = WakeAt{At: t0.Add(-time.Duration(step) * time.Hour)}
				case 1:
					cmds = append(cmds, WakeAt{At: t0.Add(-time.Duration(step) * time.Minute)})
				}
				kept = append(kept, keptCmds{cmds, fmt.Sprintf("%#v", cmds)})
			}
			versions = append(versions, next)
			fz.check(t, fmt.Sprintf("step %d (%#v)", step, e))
		}
		for i, k := range kept {
			if got := fmt.Sprintf("%#v", k.cmds); got != k.was {
				t.Fatalf("commands %d changed after the host had them:\nnow %s\nwas %s", i, got, k.was)
			}
		}
	})
}

// Members of two groups that a stage started at once (they share the cold
// part the stage started them with) wait for the catalog; the run is
// stepped as it is and as decoded from its JSON (which builds each group's
// wait list itself), and two branches of each park one more member of a
// group. A CatalogChanged on each branch gives what a run that was never
// decoded or branched gives, and no version's values change.
func TestCatalogWaitsStayTheirGroups(t *testing.T) {
	lagging := catalog()
	lagging.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{"1.29.4"}, NodeImageVersions: []string{imgOld, imgNew}}
	ms := append(members("ga", "a1", "a2", "a3", "a4", "a5"), members("gb", "b1", "b2")...)
	for _, i := range []int{3, 4, 6} {
		ms[i].Region = regionB // these start; the others wait for 1.30 in eastus
	}
	spec := Spec{Strategy: strategy(Stage{Name: "s1", Groups: []Group{{Name: "ga", MaxConcurrency: "100%"}, {Name: "gb", MaxConcurrency: "100%"}}}), ManagedClusterUpdate: full(k8sTo)}
	start := Start{At: t0}
	fresh := func() Run {
		r, err := New("run-1", spec, ms, lagging)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r, cmds, err := Step(fresh(), start)
	if err != nil || len(cmds) != 3 {
		t.Fatalf("Start: %v, %#v; want a4, a5 and b2 to start", err, cmds)
	}
	ops := map[string]OpID{}
	for _, c := range cmds {
		ops[c.(UpgradeMember).Member] = c.(UpgradeMember).Op
	}
	park := func(name string) Event {
		return UpgradeFailed{At: t0.Add(time.Minute), Op: ops[name], Code: CodeNodeImageVersionNotAvailable, Message: "not yet"}
	}
	caughtUp := CatalogChanged{At: t0.Add(2 * time.Minute), Catalog: catalog()}
	saved := mustJSONT(t, r)
	fz := newFrozen()
	for _, base := range []Run{r, decoded(t, saved)} {
		fz.note(base)
		var branches []Run
		for _, name := range []string{"a4", "a5", "b2"} {
			next, _, err := Step(base, park(name))
			if err != nil {
				t.Fatalf("park %s: %v", name, err)
			}
			fz.note(next)
			branches = append(branches, next)
		}
		for i, name := range []string{"a4", "a5", "b2"} {
			next, cmds, err := Step(branches[i], caughtUp)
			fz.note(next)
			o := fresh()
			var ocmds []Command
			var oerr error
			for _, e := range []Event{start, park(name), caughtUp} {
				if o, ocmds, oerr = Step(o, e); oerr != nil {
					t.Fatalf("replay: %v", oerr)
				}
			}
			sameStep(t, fmt.Sprintf("the catalog catching up after %s waits (decoded: %v)", name, base.s != r.s), next, cmds, err, o, ocmds, oerr, true)
		}
		fz.check(t, "after the branches")
	}
}
