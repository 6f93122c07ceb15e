package fleetupdate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// checkViews checks the partial views of a run against its Status: Member
// is the member's entry in Status, for every member, and Overview is Status
// without members.
func checkViews(t fataler, r Run, when string) {
	st := r.Status()
	var names []string
	for _, s := range st.Stages {
		for _, g := range s.Groups {
			for _, m := range g.Members {
				names = append(names, m.Name)
				got, ok := r.Member(m.Name)
				if !ok || !reflect.DeepEqual(got, m) {
					t.Fatalf("%s: Member(%q) = %+v, %v; Status has %+v", when, m.Name, got, ok, m)
				}
			}
			g.Members = nil
		}
	}
	if _, ok := r.Member("not-a-member"); ok {
		t.Fatalf("%s: Member finds a name not in the run", when)
	}
	for si := range st.Stages {
		for gi := range st.Stages[si].Groups {
			st.Stages[si].Groups[gi].Members = nil
		}
	}
	if ov := r.Overview(); !reflect.DeepEqual(ov, st) {
		t.Fatalf("%s: Overview differs from Status without members:\n%+v\n%+v", when, ov, st)
	}
	slices.Sort(names)
	if all := r.Changed(Run{}); !slices.Equal(all, names) {
		t.Fatalf("%s: Changed from nothing = %v, want every member %v", when, all, names)
	}
}

// checkChanged: every member whose status differs between prev and next is
// named by next.Changed(prev), which is sorted and without duplicates.
func checkChanged(t *rapid.T, prev, next Run, when string) {
	changed := next.Changed(prev)
	if !slices.IsSorted(changed) || len(slices.Compact(slices.Clone(changed))) != len(changed) {
		t.Fatalf("%s: Changed is not sorted and unique: %v", when, changed)
	}
	for _, name := range changed {
		if _, ok := next.Member(name); !ok {
			t.Fatalf("%s: Changed names %q, not a member", when, name)
		}
	}
	for id := range next.p.members {
		name := next.p.members[id].Name
		a, _ := prev.Member(name)
		b, _ := next.Member(name)
		if !reflect.DeepEqual(a, b) {
			if _, found := slices.BinarySearch(changed, name); !found {
				t.Fatalf("%s: %s changed (%+v → %+v) but Changed says only %v", when, name, a, b, changed)
			}
		}
	}
}

// Over random event sequences (machine_test's scenarios and events), after
// every accepted step: Changed covers every member whose status changed,
// Member and Overview agree with Status. Also across a save and load: a
// decoded run shares nothing with the one it was saved from, so Changed
// names every member; the step after it shares the decoded run's plan.
func TestChangedCoversEveryChangedMember(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		r, err := New("run-1", sc.spec, sc.members, sc.catalog)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		checkViews(t, r, "New")
		if c := r.Changed(r); len(c) != 0 {
			t.Fatalf("a run changed from itself: %v", c)
		}
		now := t0
		var ops []OpID
		apply := func(t *rapid.T, e Event) {
			next, cmds, err := Step(r, e)
			if err != nil {
				return
			}
			when := fmt.Sprintf("after %T at %s", e, now.Format(time.RFC3339))
			checkChanged(t, r, next, when)
			checkViews(t, next, when)
			for _, c := range cmds {
				if u, ok := c.(UpgradeMember); ok {
					ops = append(ops, u.Op)
				}
			}
			r = next
		}
		takeOp := func(t *rapid.T) (OpID, bool) {
			if len(ops) == 0 {
				return "", false
			}
			i := rapid.IntRange(0, len(ops)-1).Draw(t, "op")
			op := ops[i]
			ops = slices.Delete(ops, i, i+1)
			return op, true
		}
		t.Repeat(map[string]func(*rapid.T){
			"start": func(t *rapid.T) { apply(t, Start{At: now}) },
			"stop":  func(t *rapid.T) { apply(t, Stop{At: now}) },
			"tick": func(t *rapid.T) {
				now = now.Add(time.Duration(rapid.IntRange(1, 12*60).Draw(t, "minutes")) * time.Minute)
				if w, ok := r.NextWake(); ok && rapid.Bool().Draw(t, "toWake") && w.After(now) {
					now = w
				}
				apply(t, Tick{At: now})
			},
			"succeed": func(t *rapid.T) {
				if op, ok := takeOp(t); ok {
					apply(t, UpgradeSucceeded{At: now, Op: op})
				}
			},
			"fail": func(t *rapid.T) {
				if op, ok := takeOp(t); ok {
					code := rapid.SampledFrom([]string{"QuotaExceeded", CodeNodeImageVersionNotAvailable}).Draw(t, "code")
					apply(t, UpgradeFailed{At: now, Op: op, Code: code, Message: "boom"})
				}
			},
			"skip": func(t *rapid.T) {
				typ := rapid.SampledFrom([]TargetType{TargetMember, TargetGroup, TargetStage, TargetAfterStageWait}).Draw(t, "type")
				var name string
				switch typ {
				case TargetMember:
					name = fmt.Sprintf("m-%02d", rapid.IntRange(0, 25).Draw(t, "member"))
				case TargetGroup:
					name = fmt.Sprintf("g-%d-%d", rapid.IntRange(0, 2).Draw(t, "s"), rapid.IntRange(0, 2).Draw(t, "g"))
				default:
					name = fmt.Sprintf("stage-%d", rapid.IntRange(0, 3).Draw(t, "s"))
				}
				apply(t, Skip{At: now, Targets: []SkipTarget{{typ, name}}})
			},
			"catalog": func(t *rapid.T) { apply(t, CatalogChanged{At: now, Catalog: genCatalog(t)}) },
			"memberChanged": func(t *rapid.T) {
				if len(sc.members) == 0 {
					return
				}
				mem := rapid.SampledFrom(sc.members).Draw(t, "member")
				mem.AutoUpgradeWindow = rapid.SampledFrom(testWindows).Draw(t, "window")
				mem.NodeOSUpgradeWindow = mem.AutoUpgradeWindow
				apply(t, MemberChanged{At: now, Member: mem, Removed: rapid.IntRange(0, 4).Draw(t, "removed") == 0})
			},
			"reload": func(t *rapid.T) {
				b, err := json.Marshal(r)
				if err != nil {
					t.Fatalf("marshal: %v", err)
				}
				var back Run
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatalf("unmarshal: %v", err)
				}
				checkChanged(t, r, back, "after a reload")
				checkViews(t, back, "after a reload")
				r = back
			},
		})
	})
}

// Member is the member's entry in Status, in every state a member shows
// (NotStarted, Pending on a window and on the catalog, Running, Stopping,
// Completed, Skipped, Failed), and Overview is Status without members.
func TestMemberAndOverviewAgreeWithStatus(t *testing.T) {
	members := []Member{member("a", "g1"), member("b", "g1"), member("c", "g2"), member("d", "g2"), member("e", "g2"), member("f", "g3")}
	members[1].AutoUpgradeWindow = dailyWindow("22:00", 4)
	members[3].Region = "japaneast"
	spec := Spec{Strategy: &Strategy{Stages: []Stage{
		{Name: "s1", Groups: []Group{{Name: "g1"}, {Name: "g2", MaxConcurrency: "2"}}},
		{Name: "s2", Groups: []Group{{Name: "g3"}}},
	}}, ManagedClusterUpdate: full(k8sTo)}
	cat := catalog()
	cat.Regions["japaneast"] = RegionCatalog{KubernetesVersions: []string{"1.29.4"}}
	r, err := New("run-1", spec, members, cat)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[State]bool{}
	check := func(when string) {
		checkViews(t, r, when)
		for _, s := range r.Status().Stages {
			for _, g := range s.Groups {
				for _, m := range g.Members {
					seen[m.Status.State] = true
				}
			}
		}
	}
	step := func(e Event) []Command {
		t.Helper()
		next, cmds, err := Step(r, e)
		if err != nil {
			t.Fatalf("%T: %v", e, err)
		}
		r = next
		check(fmt.Sprintf("%T", e))
		return cmds
	}
	check("New")
	cmds := step(Start{At: t0}) // a runs, b waits for 22:00, c runs, d waits for the catalog, e runs
	var ops []OpID
	for _, c := range cmds {
		if u, ok := c.(UpgradeMember); ok {
			ops = append(ops, u.Op)
		}
	}
	step(Skip{At: t0.Add(time.Minute), Targets: []SkipTarget{{TargetMember, "f"}}})
	step(UpgradeFailed{At: t0.Add(2 * time.Minute), Op: ops[1], Code: "QuotaExceeded", Message: "no cores"}) // c fails: a and e show Stopping
	step(UpgradeSucceeded{At: t0.Add(3 * time.Minute), Op: ops[0]})
	for _, s := range []State{NotStarted, Pending, Running, Stopping, Completed, Failed, Skipped} {
		if !seen[s] {
			t.Errorf("no member was ever %s", s)
		}
	}
}
