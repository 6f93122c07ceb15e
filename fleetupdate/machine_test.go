package fleetupdate

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/window"
)

// Windows the generated fleets share: several members per schedule, as in
// real fleets, plus members with none.
var testWindows = []*window.Schedule{
	nil,
	dailyWindow("22:00", 4),
	dailyWindow("06:00", 8),
	{Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: window.Saturday}}, StartTime: "00:00", DurationHours: 24},
	{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 2}}, StartTime: "13:30", DurationHours: 4, UTCOffset: "+05:30"},
}

// Failure budgets the generated strategies use; "" is unset (0).
var testBudgets = []string{"", "", "0", "1", "2", "50%", "100%"}

// genGates draws a scope's gates: mostly none, else an approval or two, and
// before a scope sometimes a scheduled start.
func genGates(t *rapid.T, gated bool, timing GateTiming) []GateConfiguration {
	var out []GateConfiguration
	if !gated {
		return nil
	}
	for range rapid.IntRange(0, 4).Draw(t, "gates") / 3 * rapid.IntRange(1, 2).Draw(t, "more") {
		g := GateConfiguration{Type: Approval}
		if timing == Before && rapid.Bool().Draw(t, "scheduled") {
			g = GateConfiguration{Type: ScheduledStart, ScheduledStartConfiguration: &ScheduledStartConfiguration{
				StartDay:  rapid.SampledFrom([]window.Weekday{window.Wednesday, window.Thursday, window.Sunday}).Draw(t, "day"),
				StartTime: rapid.SampledFrom([]string{"00:00", "11:30", "13:00", "23:59"}).Draw(t, "time"),
				UTCOffset: rapid.SampledFrom([]string{"+00:00", "-05:00", "+14:00"}).Draw(t, "offset"),
			}}
		}
		out = append(out, g)
	}
	return out
}

type scenario struct {
	spec    Spec
	members []Member
	catalog Catalog
}

func genScenario(t *rapid.T) scenario {
	nStages := rapid.IntRange(1, 3).Draw(t, "stages")
	gated := rapid.Bool().Draw(t, "gated") // half the strategies have no gates at all
	var stages []Stage
	var groups []string
	for i := range nStages {
		st := Stage{Name: fmt.Sprintf("stage-%d", i)}
		if rapid.Bool().Draw(t, "wait") {
			st.AfterStageWaitInSeconds = rapid.SampledFrom([]int{60, 3600}).Draw(t, "waitSeconds")
		}
		if rapid.Bool().Draw(t, "stageLimit") {
			st.MaxConcurrency = rapid.SampledFrom([]string{"1", "2", "3", "50%", "100%"}).Draw(t, "stageConcurrency")
		}
		st.MaxAllowedFailures = rapid.SampledFrom(testBudgets).Draw(t, "stageBudget")
		st.BeforeGates = genGates(t, gated, Before)
		st.AfterGates = genGates(t, gated, After)
		for j := range rapid.IntRange(1, 3).Draw(t, "groups") {
			g := Group{Name: fmt.Sprintf("g-%d-%d", i, j)}
			if rapid.Bool().Draw(t, "groupLimit") {
				g.MaxConcurrency = rapid.SampledFrom([]string{"1", "2", "4", "50%", "100%"}).Draw(t, "groupConcurrency")
			}
			g.MaxAllowedFailures = rapid.SampledFrom(testBudgets).Draw(t, "groupBudget")
			g.BeforeGates = genGates(t, gated, Before)
			g.AfterGates = genGates(t, gated, After)
			st.Groups = append(st.Groups, g)
			groups = append(groups, g.Name)
		}
		stages = append(stages, st)
	}
	up := rapid.SampledFrom([]UpgradeType{Full, ControlPlaneOnly, NodeImageOnly}).Draw(t, "upgrade")
	mcu := ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: up}}
	if up != NodeImageOnly {
		mcu.Upgrade.KubernetesVersion = rapid.SampledFrom([]string{"1.30", "1.30.5"}).Draw(t, "target")
	}
	if up != ControlPlaneOnly {
		sel := rapid.SampledFrom([]NodeImageSelectionType{Latest, Consistent, Custom}).Draw(t, "selection")
		mcu.NodeImageSelection = &NodeImageSelection{Type: sel}
		if sel == Custom {
			mcu.NodeImageSelection.CustomNodeImageVersions = []NodeImageVersion{{imgMid}}
		}
	}
	// Selectors: the first stage may drop members labelled env=skip, and a
	// last stage without groups may take the members labelled pool=sel, who
	// name no group (so no member is selected into two groups).
	if rapid.Bool().Draw(t, "prefilter") {
		stages[0].MemberSelector = &MemberSelector{ByLabel: "env notin (skip)"}
	}
	selStage := rapid.Bool().Draw(t, "selectorStage")
	if selStage {
		stages = append(stages, Stage{Name: "stage-sel", MemberSelector: &MemberSelector{ByLabel: "pool=sel"},
			MaxConcurrency: rapid.SampledFrom([]string{"", "2"}).Draw(t, "selConcurrency"), MaxAllowedFailures: rapid.SampledFrom(testBudgets).Draw(t, "selBudget")})
	}
	spec := Spec{ManagedClusterUpdate: mcu}
	if rapid.IntRange(0, 4).Draw(t, "hasStrategy") > 0 {
		spec.Strategy = &Strategy{Stages: stages}
	}
	var ms []Member
	for i := range rapid.IntRange(0, 24).Draw(t, "members") {
		m := Member{
			Name:              fmt.Sprintf("m-%02d", i),
			Group:             rapid.SampledFrom(groups).Draw(t, "group"),
			Region:            rapid.SampledFrom([]string{regionA, regionB, "japaneast"}).Draw(t, "region"),
			KubernetesVersion: rapid.SampledFrom([]string{"1.28.9", "1.29.4", "1.29.4", "1.30.5"}).Draw(t, "k8s"),
			AutoUpgradeWindow: rapid.SampledFrom(testWindows).Draw(t, "autoWindow"),
		}
		m.NodeOSUpgradeWindow = rapid.SampledFrom(testWindows).Draw(t, "osWindow")
		switch rapid.IntRange(0, 5).Draw(t, "labels") {
		case 0:
			m.Labels = map[string]string{"env": "skip"}
		case 1:
			if selStage {
				m.Group, m.Labels = "", map[string]string{"pool": "sel"}
			}
		}
		for p := range rapid.IntRange(0, 2).Draw(t, "pools") {
			np := NodePool{Name: fmt.Sprintf("pool%d", p), NodeImageVersion: rapid.SampledFrom([]string{imgOld, imgMid, imgNew, "AKSWindows-2022-containerd-20348.3000.250101"}).Draw(t, "image")}
			if rapid.IntRange(0, 3).Draw(t, "poolVersion") == 0 {
				np.KubernetesVersion = rapid.SampledFrom([]string{"1.26.1", "1.28.9", "1.29.4"}).Draw(t, "poolK8s")
			}
			m.NodePools = append(m.NodePools, np)
		}
		ms = append(ms, m)
	}
	return scenario{spec: spec, members: ms, catalog: genCatalog(t)}
}

func genCatalog(t *rapid.T) Catalog {
	c := catalog()
	if rapid.Bool().Draw(t, "laggingRegion") {
		c.Regions["japaneast"] = RegionCatalog{KubernetesVersions: []string{"1.29.4"}, NodeImageVersions: []string{imgOld}}
	} else {
		c.Regions["japaneast"] = c.Regions[regionA]
	}
	return c
}

// checkInvariants checks what must hold after every step.
func checkInvariants(t *rapid.T, r Run, cmds []Command, failingBefore bool, ev Event) {
	p, s := r.p, r.s
	st := r.Status()
	// The state's own invariants: counters, in flight, phases, gates.
	if err := r.check(); err != nil {
		t.Fatalf("after %T: %v", ev, err)
	}
	// Concurrency limits hold; failure counts are the Failed members, per
	// group, stage and run; a group is Failed exactly when over its budget.
	runFailed := 0
	for gi, pg := range p.groups {
		gr := s.groups.get(gi)
		if int(gr.running) > pg.limit {
			t.Fatalf("group %s runs %d > limit %d", pg.name, gr.running, pg.limit)
		}
		failed := 0
		for _, id := range pg.members {
			if s.members.get(int(id)).state() == Failed {
				failed++
			}
		}
		runFailed += failed
		gs := st.Stages[pg.stage].Groups[slices.Index(p.stages[pg.stage].groups, int32(gi))]
		if gs.FailureCount != failed {
			t.Fatalf("group %s shows failureCount %d, has %d Failed members", pg.name, gs.FailureCount, failed)
		}
		if (gs.Status.State == Failed) != (failed > pg.maxFailures) {
			t.Fatalf("group %s is %s with %d failed of %d allowed", pg.name, gs.Status.State, failed, pg.maxFailures)
		}
	}
	if st.FailureCount != runFailed {
		t.Fatalf("run shows failureCount %d, has %d Failed members", st.FailureCount, runFailed)
	}
	for i, ss := range st.Stages {
		n := 0
		for _, gs := range ss.Groups {
			n += gs.FailureCount
		}
		if ss.FailureCount != n {
			t.Fatalf("stage %s shows failureCount %d, its groups %d", ss.Name, ss.FailureCount, n)
		}
		// Nothing new starts once a budget is exceeded: the run is no longer Running.
		if n > p.stages[i].maxFailures && s.phase == Running {
			t.Fatalf("stage %s is over its budget (%d > %d) and the run is Running", ss.Name, n, p.stages[i].maxFailures)
		}
		running := 0
		for _, g := range p.stages[i].groups {
			for _, id := range p.groups[g].members {
				if s.members.get(int(id)).state() == Running {
					running++
				}
			}
		}
		if running > p.stages[i].limit {
			t.Fatalf("stage %s runs %d > limit %d", ss.Name, running, p.stages[i].limit)
		}
	}
	for _, c := range cmds {
		u, ok := c.(UpgradeMember)
		if !ok {
			continue
		}
		id := p.byName[u.Member]
		g := p.groupOf[id]
		stage := int(p.groups[g].stage)
		// No group or stage starts work past a gate that holds it.
		if !r.settledAll(p.stages[stage].before) || !r.settledAll(p.groups[g].before) {
			t.Fatalf("%s started past a before-gate of its stage or group", u.Member)
		}
		// No member of stage k+1 starts before stage k is finished.
		for k := range stage {
			if s.stages.get(k).phase != stageDone {
				t.Fatalf("%s (stage %d) started while stage %d is not done", u.Member, stage, k)
			}
		}
		// No upgrade starts while the member's window is closed.
		if w := windowFor(s.members.get(int(id)).data, p.v.upType); w != nil && !w.IsOpen(s.clock) {
			t.Fatalf("%s started at %s with its window closed", u.Member, s.clock)
		}
		// After a failure no new op starts (until a Start).
		if _, isStart := ev.(Start); failingBefore && !isStart {
			t.Fatalf("%s started after a failure", u.Member)
		}
	}
	// Parent states agree with their children.
	all := func(xs []State, ok ...State) bool {
		for _, x := range xs {
			if !slices.Contains(ok, x) {
				return false
			}
		}
		return true
	}
	var stageStates []State
	for _, ss := range st.Stages {
		stageStates = append(stageStates, ss.Status.State)
		var groupStates []State
		for _, gs := range ss.Groups {
			groupStates = append(groupStates, gs.Status.State)
			var ms []State
			for _, m := range gs.Members {
				ms = append(ms, m.Status.State)
			}
			switch gs.Status.State {
			case Completed, Skipped:
				var gates []State
				for _, g := range append(slices.Clone(gs.BeforeGates), gs.AfterGates...) {
					gates = append(gates, g.Status.State)
				}
				if !all(gates, Completed, Skipped) {
					t.Fatalf("group %s %s with gates %v", gs.Name, gs.Status.State, gates)
				}
			}
			switch gs.Status.State {
			case Completed:
				if !all(ms, Completed, Skipped, Failed) {
					t.Fatalf("group %s Completed with members %v", gs.Name, ms)
				}
			case Skipped:
				if !all(ms, Skipped) {
					t.Fatalf("group %s Skipped with members %v", gs.Name, ms)
				}
			case Failed:
				if !slices.Contains(ms, Failed) {
					t.Fatalf("group %s Failed with members %v", gs.Name, ms)
				}
			case Running, Stopping:
				if !slices.Contains(ms, Running) && !slices.Contains(ms, Stopping) {
					t.Fatalf("group %s %s with members %v", gs.Name, gs.Status.State, ms)
				}
			case Pending:
				if !all(ms, Pending, NotStarted, Completed, Skipped, Failed) {
					t.Fatalf("group %s Pending with members %v", gs.Name, ms)
				}
			}
		}
		switch ss.Status.State {
		case Completed:
			if !all(groupStates, Completed, Skipped) {
				t.Fatalf("stage %s Completed with groups %v", ss.Name, groupStates)
			}
		case Skipped:
			if !all(groupStates, Skipped) {
				t.Fatalf("stage %s Skipped with groups %v", ss.Name, groupStates)
			}
		case Failed:
			if !slices.Contains(groupStates, Failed) && ss.FailureCount <= ss.MaxAllowedFailures {
				t.Fatalf("stage %s Failed with groups %v and %d failures of %d allowed", ss.Name, groupStates, ss.FailureCount, ss.MaxAllowedFailures)
			}
		case Pending:
			if !all(groupStates, Pending, NotStarted, Completed, Skipped) {
				t.Fatalf("stage %s Pending with groups %v", ss.Name, groupStates)
			}
		}
	}
	switch st.Status.State {
	case Completed:
		if !all(stageStates, Completed, Skipped) || s.inflight > 0 {
			t.Fatalf("run Completed with stages %v", stageStates)
		}
	case Skipped:
		if !all(stageStates, Skipped) {
			t.Fatalf("run Skipped with stages %v", stageStates)
		}
	case Pending:
		if stageStates[s.stage] != Pending {
			t.Fatalf("run Pending with current stage %v", stageStates[s.stage])
		}
	case Failed, Stopped:
		if s.inflight > 0 {
			t.Fatalf("run %s with ops in flight", st.Status.State)
		}
	}
}

// machine drives a run with random events the way a host might.
type machine struct {
	sc      scenario
	run     Run
	shadow  Run // decoded from JSON after every step: must behave the same
	now     time.Time
	ops     []UpgradeMember
	events  []Event
	outputs [][]Command
}

func (m *machine) apply(t *rapid.T, e Event) {
	before := mustJSONR(t, m.run)
	beforeStatus := mustJSONR(t, m.run.Status())
	failingBefore := m.run.s.errCode != ""
	next, cmds, err := Step(m.run, e)
	if mustJSONR(t, m.run) != before || mustJSONR(t, m.run.Status()) != beforeStatus {
		t.Fatalf("Step mutated its input on %T", e)
	}
	snext, scmds, serr := Step(m.shadow, e)
	if fmt.Sprint(err) != fmt.Sprint(serr) || !commandsEqual(cmds, scmds) {
		t.Fatalf("decoded run diverged on %#v: %v / %v, %v / %v", e, err, serr, cmds, scmds)
	}
	if err != nil {
		if mustJSONR(t, next) != before {
			t.Fatalf("a rejected %T changed the run: %v", e, err)
		}
		return
	}
	if mustJSONR(t, snext) != mustJSONR(t, next) {
		t.Fatalf("decoded run diverged on %#v", e)
	}
	m.events = append(m.events, e)
	m.outputs = append(m.outputs, cmds)
	m.run = next
	checkInvariants(t, next, cmds, failingBefore, e)
	for _, c := range cmds {
		if u, ok := c.(UpgradeMember); ok {
			m.ops = append(m.ops, u)
		}
	}
	var back Run
	if err := json.Unmarshal([]byte(mustJSONR(t, next)), &back); err != nil {
		t.Fatalf("decode: %v", err)
	}
	m.shadow = back
}

func commandsEqual(a, b []Command) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func mustJSONR(t *rapid.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func (m *machine) takeOp(t *rapid.T) (UpgradeMember, bool) {
	if len(m.ops) == 0 {
		return UpgradeMember{}, false
	}
	i := rapid.IntRange(0, len(m.ops)-1).Draw(t, "op")
	u := m.ops[i]
	m.ops = slices.Delete(m.ops, i, i+1)
	return u, true
}

func TestRunStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		r, err := New("run-1", sc.spec, sc.members, sc.catalog)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		m := &machine{sc: sc, run: r, shadow: r, now: t0}
		t.Repeat(map[string]func(*rapid.T){
			"start": func(t *rapid.T) { m.apply(t, Start{At: m.now}) },
			"stop":  func(t *rapid.T) { m.apply(t, Stop{At: m.now}) },
			"tick": func(t *rapid.T) {
				m.now = m.now.Add(time.Duration(rapid.IntRange(1, 12*60).Draw(t, "minutes")) * time.Minute)
				if w, ok := m.run.NextWake(); ok && rapid.Bool().Draw(t, "toWake") {
					m.now = w
				}
				m.apply(t, Tick{At: m.now})
			},
			"succeed": func(t *rapid.T) {
				if u, ok := m.takeOp(t); ok {
					m.apply(t, UpgradeSucceeded{At: m.now, Op: u.Op})
				}
			},
			"fail": func(t *rapid.T) {
				if u, ok := m.takeOp(t); ok {
					code := rapid.SampledFrom([]string{"QuotaExceeded", CodeNodeImageVersionNotAvailable}).Draw(t, "code")
					m.apply(t, UpgradeFailed{At: m.now, Op: u.Op, Code: code, Message: "boom"})
				}
			},
			"stale": func(t *rapid.T) {
				m.apply(t, UpgradeSucceeded{At: m.now, Op: opID("run-1", "m-00", rapid.IntRange(0, 3).Draw(t, "attempt"))})
			},
			"skip": func(t *rapid.T) {
				var targets []SkipTarget
				for range rapid.IntRange(1, 2).Draw(t, "targets") {
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
					targets = append(targets, SkipTarget{typ, name})
				}
				m.apply(t, Skip{At: m.now, Targets: targets})
			},
			"catalog": func(t *rapid.T) { m.apply(t, CatalogChanged{At: m.now, Catalog: genCatalog(t)}) },
			"completeGate": func(t *rapid.T) {
				id := GateID("run-1/nowhere/Before/0")
				if n := len(m.run.p.gates); n > 0 && rapid.IntRange(0, 5).Draw(t, "known") > 0 {
					id = m.run.p.gates[rapid.IntRange(0, n-1).Draw(t, "gate")].id
				}
				m.apply(t, CompleteGate{At: m.now, Gate: id})
			},
			"memberChanged": func(t *rapid.T) {
				if len(m.sc.members) == 0 {
					return
				}
				mem := rapid.SampledFrom(m.sc.members).Draw(t, "member")
				mem.AutoUpgradeWindow = rapid.SampledFrom(testWindows).Draw(t, "window")
				mem.NodeOSUpgradeWindow = mem.AutoUpgradeWindow
				m.apply(t, MemberChanged{At: m.now, Member: mem, Removed: rapid.IntRange(0, 4).Draw(t, "removed") == 0})
			},
			"": func(t *rapid.T) {
				// Replaying the same events gives identical runs and commands.
				r, _ := New("run-1", m.sc.spec, m.sc.members, m.sc.catalog)
				for i, e := range m.events {
					var cmds []Command
					var err error
					r, cmds, err = Step(r, e)
					if err != nil || !commandsEqual(cmds, m.outputs[i]) {
						t.Fatalf("replay diverged at event %d (%T): %v", i, e, err)
					}
				}
				if mustJSONR(t, r) != mustJSONR(t, m.run) {
					t.Fatalf("replay ended in a different run")
				}
			},
		})
	})
}

// Every generated run can be driven to an end by a host that always succeeds
// and ticks at each wake: nothing deadlocks.
func TestRunsAlwaysFinishWithAHelpfulHost(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		r, err := New("run-1", sc.spec, sc.members, sc.catalog)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		now := t0
		r, cmds, err := Step(r, Start{At: now})
		if err != nil {
			t.Fatal(err)
		}
		var ops []OpID
		for steps := 0; ; steps++ {
			if steps > 10000 {
				t.Fatalf("no end after %d steps: %s", steps, r.State())
			}
			for _, c := range cmds {
				if u, ok := c.(UpgradeMember); ok {
					ops = append(ops, u.Op)
				}
			}
			switch r.State() {
			case Completed, Skipped, Failed:
				return
			}
			var e Event
			var await []AwaitGate
			for _, c := range r.Outstanding() {
				if a, ok := c.(AwaitGate); ok && a.Type == Approval {
					await = append(await, a)
				}
			}
			if len(await) > 0 {
				e = CompleteGate{At: now, Gate: await[0].Gate} // a host that approves at once
			} else if len(ops) > 0 {
				sort.Slice(ops, func(i, j int) bool { return ops[i] < ops[j] })
				e, ops = UpgradeSucceeded{At: now, Op: ops[0]}, ops[1:]
			} else if w, ok := r.NextWake(); ok {
				now = w
				e = Tick{At: now}
			} else {
				// Only members waiting for the catalog are left: the region catches up.
				e = CatalogChanged{At: now, Catalog: fullCatalog()}
				if r.State() != Pending {
					t.Fatalf("stuck in %s with nothing in flight and no wake", r.State())
				}
				if len(r.s.wakes) == 0 && steps > 0 && caughtUp(r) {
					t.Fatalf("stuck Pending although the catalog offers everything")
				}
			}
			if r, cmds, err = Step(r, e); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// caughtUp: the run's catalog is the full one.
func caughtUp(r Run) bool {
	return fmt.Sprint(r.s.catalog.src) == fmt.Sprint(fullCatalog())
}

// fullCatalog offers everything in every region the generator uses.
func fullCatalog() Catalog {
	c := catalog()
	c.Regions["japaneast"] = c.Regions[regionA]
	return c
}
