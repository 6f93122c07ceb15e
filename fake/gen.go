package fake

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// GenEpoch is the time generated fleets are "now" at: node image releases are
// published in the weeks before it, and simulations usually start at it.
var GenEpoch = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

var (
	genRegions  = []string{"eastus", "westeurope", "japaneast", "australiaeast", "brazilsouth", "uksouth"}
	genFamilies = []string{"AKSUbuntu-2204gen2containerd", "AKSAzureLinux-V2gen2"}
	genVersions = []string{"1.28.9", "1.29.4", "1.29.9", "1.30.2", "1.30.5"}
	genGroups   = []string{"canary", "dev", "test", "prod-eu", "prod-us", "prod-asia"}
	genWeekdays = []window.Weekday{window.Sunday, window.Monday, window.Tuesday, window.Wednesday, window.Thursday, window.Friday, window.Saturday}
)

// Windows generates valid AKS maintenance windows of every kind, with
// offsets, start dates and blocked dates.
func Windows() *rapid.Generator[*window.Schedule] {
	return rapid.Custom(func(t *rapid.T) *window.Schedule {
		s := &window.Schedule{
			DurationHours: rapid.IntRange(4, 24).Draw(t, "durationHours"),
			StartTime:     fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(t, "hour"), rapid.SampledFrom([]int{0, 15, 30, 45}).Draw(t, "minute")),
		}
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			s.Recurrence.Daily = &window.DailySchedule{IntervalDays: rapid.IntRange(1, 7).Draw(t, "intervalDays")}
		case 1:
			s.Recurrence.Weekly = &window.WeeklySchedule{IntervalWeeks: rapid.IntRange(1, 4).Draw(t, "intervalWeeks"), DayOfWeek: rapid.SampledFrom(genWeekdays).Draw(t, "dayOfWeek")}
		case 2:
			s.Recurrence.AbsoluteMonthly = &window.AbsoluteMonthlySchedule{IntervalMonths: rapid.IntRange(1, 6).Draw(t, "intervalMonths"), DayOfMonth: rapid.IntRange(1, 31).Draw(t, "dayOfMonth")}
		default:
			s.Recurrence.RelativeMonthly = &window.RelativeMonthlySchedule{
				IntervalMonths: rapid.IntRange(1, 6).Draw(t, "intervalMonths"),
				WeekIndex:      rapid.SampledFrom([]window.WeekIndex{window.First, window.Second, window.Third, window.Fourth, window.Last}).Draw(t, "weekIndex"),
				DayOfWeek:      rapid.SampledFrom(genWeekdays).Draw(t, "dayOfWeek"),
			}
		}
		if rapid.Bool().Draw(t, "hasOffset") {
			s.UTCOffset = rapid.SampledFrom([]string{"+00:00", "-05:00", "-08:00", "+01:00", "+05:30", "+09:00", "+14:00", "-12:00"}).Draw(t, "utcOffset")
		}
		if rapid.IntRange(0, 3).Draw(t, "hasStartDate") == 0 {
			s.StartDate = GenEpoch.AddDate(0, 0, rapid.IntRange(-60, 30).Draw(t, "startDays")).Format("2006-01-02")
		}
		if rapid.IntRange(0, 4).Draw(t, "hasBlocked") == 0 {
			from := GenEpoch.AddDate(0, 0, rapid.IntRange(0, 60).Draw(t, "blockFrom"))
			s.NotAllowedDates = []window.DateSpan{{Start: from.Format("2006-01-02"), End: from.AddDate(0, 0, rapid.IntRange(0, 14).Draw(t, "blockDays")).Format("2006-01-02")}}
		}
		return s
	})
}

// Fleets generates fleets of 1 to 40 members over up to 6 regions, with
// weekly node image releases of two families published in the 8 weeks
// before GenEpoch, members a mix of Kubernetes versions and image ages, and
// 30% of them without a maintenance window. Members carry labels (see
// GenLabelGroup) that Scenarios' member selectors select on.
func Fleets() *rapid.Generator[*Fleet] {
	return rapid.Custom(func(t *rapid.T) *Fleet {
		f := &Fleet{
			Regions:            slices.Clone(genRegions[:rapid.IntRange(1, len(genRegions)).Draw(t, "regions")]),
			KubernetesVersions: slices.Clone(genVersions),
		}
		for _, fam := range genFamilies {
			for w := 8; w >= 1; w-- {
				p := GenEpoch.AddDate(0, 0, -7*w)
				f.NodeImages = append(f.NodeImages, Release{Image: fmt.Sprintf("%s-%s.0", fam, p.Format("200601.02")), Published: p})
			}
		}
		groups := genGroups[:rapid.IntRange(1, len(genGroups)).Draw(t, "groups")]
		for i := range rapid.IntRange(1, 40).Draw(t, "members") {
			m := fleetupdate.Member{
				Name:              fmt.Sprintf("member-%02d", i),
				Group:             rapid.SampledFrom(groups).Draw(t, "group"),
				Region:            rapid.SampledFrom(f.Regions).Draw(t, "region"),
				KubernetesVersion: rapid.SampledFrom(genVersions[:4]).Draw(t, "kubernetesVersion"),
			}
			for p := range rapid.IntRange(1, 3).Draw(t, "pools") {
				fam := rapid.SampledFrom(genFamilies).Draw(t, "family")
				age := rapid.IntRange(3, 8).Draw(t, "imageAgeWeeks") // old enough to be everywhere
				m.NodePools = append(m.NodePools, fleetupdate.NodePool{
					Name:             fmt.Sprintf("pool%d", p),
					NodeImageVersion: fmt.Sprintf("%s-%s.0", fam, GenEpoch.AddDate(0, 0, -7*age).Format("200601.02")),
				})
			}
			m.Labels = genLabels(i, m)
			if rapid.IntRange(0, 9).Draw(t, "window") >= 3 {
				m.AutoUpgradeWindow = Windows().Draw(t, "autoUpgradeWindow")
				m.NodeOSUpgradeWindow = Windows().Draw(t, "nodeOSUpgradeWindow")
			}
			f.Members = append(f.Members, m)
		}
		return f
	})
}

// Labels of generated members. Each member has GenLabelGroup (its update
// group), "ring" ("0", "1" or "2", by its place in the fleet) and "tier"
// ("web", "api" or "db"); members on Kubernetes 1.28 also have "legacy".
const GenLabelGroup = "fleetkit.io/group"

// genLabels derives a member's labels from what was drawn for it, so that
// adding them changed no fleet a seed generates.
func genLabels(i int, m fleetupdate.Member) map[string]string {
	l := map[string]string{
		GenLabelGroup: m.Group,
		"ring":        fmt.Sprint(i % 3),
		"tier":        []string{"web", "api", "db"}[(i/3)%3],
	}
	if strings.HasPrefix(m.KubernetesVersion, "1.28.") {
		l["legacy"] = "true"
	}
	return l
}

// Gates generates 1 or 2 gates to stand before (before) or after a stage or
// group: Approval gates, and before only ScheduledStart gates at a quarter
// hour of some weekday, at some UTC offset.
func Gates(before bool) *rapid.Generator[[]fleetupdate.GateConfiguration] {
	return rapid.Custom(func(t *rapid.T) []fleetupdate.GateConfiguration {
		var out []fleetupdate.GateConfiguration
		for i := range rapid.IntRange(1, 2).Draw(t, "gates") {
			g := fleetupdate.GateConfiguration{Type: fleetupdate.Approval}
			if rapid.Bool().Draw(t, "displayName") {
				g.DisplayName = fmt.Sprintf("gate %d", i+1)
			}
			if before && rapid.IntRange(0, 2).Draw(t, "scheduled") == 0 {
				g.Type = fleetupdate.ScheduledStart
				g.ScheduledStartConfiguration = &fleetupdate.ScheduledStartConfiguration{
					StartDay:  rapid.SampledFrom(genWeekdays).Draw(t, "startDay"),
					StartTime: fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(t, "startHour"), rapid.SampledFrom([]int{0, 15, 30, 45}).Draw(t, "startMinute")),
					UTCOffset: rapid.SampledFrom([]string{"+00:00", "-05:00", "+01:00", "+05:30", "+09:00"}).Draw(t, "startOffset"),
				}
			}
			out = append(out, g)
		}
		return out
	})
}

// Strategies generates valid Azure strategies over the given update groups:
// 1 to 3 stages that split the groups in order, with optional waits,
// concurrency limits, failure budgets ("N" and "P%") and gates (Gates)
// before and after stages and groups. Groups select their members by name;
// Scenarios adds label selectors.
func Strategies(groups []string) *rapid.Generator[*fleetupdate.Strategy] {
	return rapid.Custom(func(t *rapid.T) *fleetupdate.Strategy {
		s := &fleetupdate.Strategy{}
		rest := groups
		for i := 0; len(rest) > 0; i++ {
			n := rapid.IntRange(1, len(rest)).Draw(t, "groupsInStage")
			if i == 2 {
				n = len(rest)
			}
			st := fleetupdate.Stage{Name: fmt.Sprintf("stage-%d", i+1)}
			if rapid.Bool().Draw(t, "wait") {
				st.AfterStageWaitInSeconds = rapid.SampledFrom([]int{300, 3600, 86400}).Draw(t, "waitSeconds")
			}
			if rapid.Bool().Draw(t, "stageLimit") {
				st.MaxConcurrency = rapid.SampledFrom([]string{"1", "2", "5", "25%", "50%"}).Draw(t, "stageConcurrency")
			}
			st.MaxAllowedFailures = rapid.SampledFrom([]string{"", "", "0", "1", "3", "25%", "100%"}).Draw(t, "stageFailures")
			if rapid.IntRange(0, 3).Draw(t, "stageBeforeGates") == 0 {
				st.BeforeGates = Gates(true).Draw(t, "stageBefore")
			}
			if rapid.IntRange(0, 3).Draw(t, "stageAfterGates") == 0 {
				st.AfterGates = Gates(false).Draw(t, "stageAfter")
			}
			for _, g := range rest[:n] {
				gr := fleetupdate.Group{Name: g}
				if rapid.Bool().Draw(t, "groupLimit") {
					gr.MaxConcurrency = rapid.SampledFrom([]string{"1", "2", "3", "50%", "100%"}).Draw(t, "groupConcurrency")
				}
				gr.MaxAllowedFailures = rapid.SampledFrom([]string{"", "", "0", "1", "2", "50%", "100%"}).Draw(t, "groupFailures")
				if rapid.IntRange(0, 4).Draw(t, "groupBeforeGates") == 0 {
					gr.BeforeGates = Gates(true).Draw(t, "groupBefore")
				}
				if rapid.IntRange(0, 4).Draw(t, "groupAfterGates") == 0 {
					gr.AfterGates = Gates(false).Draw(t, "groupAfter")
				}
				st.Groups = append(st.Groups, gr)
			}
			s.Stages = append(s.Stages, st)
			rest = rest[n:]
		}
		return s
	})
}

// Specs generates run specs over the given groups: a strategy (or none, one
// by one) and any upgrade type and node image selection.
func Specs(groups []string) *rapid.Generator[fleetupdate.Spec] {
	return rapid.Custom(func(t *rapid.T) fleetupdate.Spec {
		var s fleetupdate.Spec
		if rapid.IntRange(0, 4).Draw(t, "strategy") > 0 {
			s.Strategy = Strategies(groups).Draw(t, "stages")
		}
		up := rapid.SampledFrom([]fleetupdate.UpgradeType{fleetupdate.Full, fleetupdate.ControlPlaneOnly, fleetupdate.NodeImageOnly}).Draw(t, "upgradeType")
		s.ManagedClusterUpdate.Upgrade.Type = up
		if up != fleetupdate.NodeImageOnly {
			s.ManagedClusterUpdate.Upgrade.KubernetesVersion = rapid.SampledFrom([]string{"1.30", "1.30.5"}).Draw(t, "kubernetesVersion")
		}
		if up != fleetupdate.ControlPlaneOnly {
			sel := rapid.SampledFrom([]fleetupdate.NodeImageSelectionType{fleetupdate.Latest, fleetupdate.Consistent}).Draw(t, "nodeImageSelection")
			s.ManagedClusterUpdate.NodeImageSelection = &fleetupdate.NodeImageSelection{Type: sel}
		}
		return s
	})
}

// Scenario is a fleet and a run spec that fit together.
type Scenario struct {
	Fleet *Fleet
	Spec  fleetupdate.Spec
}

// Scenarios generates fleets with specs over their groups. Some strategies
// select members by label (Fleets' labels) instead of by group name: a
// group by its GenLabelGroup label (in several spellings, some narrowed
// further), a stage's groups pre-filtered by another label, or a stage
// without groups whose selector takes its groups' members as one implicit
// group. No member is selected twice.
func Scenarios() *rapid.Generator[Scenario] {
	return rapid.Custom(func(t *rapid.T) Scenario {
		f := Fleets().Draw(t, "fleet")
		var groups []string
		seen := map[string]bool{}
		for _, g := range genGroups {
			for _, m := range f.Members {
				if m.Group == g && !seen[g] {
					seen[g] = true
					groups = append(groups, g)
				}
			}
		}
		sc := Scenario{Fleet: f, Spec: Specs(groups).Draw(t, "spec")}
		if sc.Spec.Strategy != nil && rapid.Bool().Draw(t, "selectors") {
			addSelectors(t, sc.Spec.Strategy)
		}
		return sc
	})
}

// addSelectors makes some of the strategy's stages and groups select their
// members by label.
func addSelectors(t *rapid.T, s *fleetupdate.Strategy) {
	filters := []string{"ring!=2", "tier in (web,api)", "!legacy", "ring", "tier notin (db)", "ring in (0, 1),tier"}
	for i := range s.Stages {
		st := &s.Stages[i]
		switch rapid.IntRange(0, 3).Draw(t, "stageSelector") {
		case 0: // no groups: the stage's selector makes one implicit group
			names := make([]string, len(st.Groups))
			for j, g := range st.Groups {
				names[j] = g.Name
			}
			st.Groups = nil
			st.MemberSelector = &fleetupdate.MemberSelector{ByLabel: GenLabelGroup + " in (" + strings.Join(names, ",") + ")"}
			continue
		case 1: // pre-filters its groups
			st.MemberSelector = &fleetupdate.MemberSelector{ByLabel: rapid.SampledFrom(filters).Draw(t, "stageFilter")}
		}
		for j := range st.Groups {
			g := &st.Groups[j]
			if rapid.Bool().Draw(t, "groupSelector") {
				sel := rapid.SampledFrom([]string{"%s=%s", "%s==%s", "%s in (%s)", "%s in (%s, nowhere)"}).Draw(t, "groupSpelling")
				by := fmt.Sprintf(sel, GenLabelGroup, g.Name)
				if rapid.IntRange(0, 2).Draw(t, "narrowed") == 0 {
					by += "," + rapid.SampledFrom(filters[:3]).Draw(t, "groupFilter")
				}
				g.MemberSelector = &fleetupdate.MemberSelector{ByLabel: by}
			}
		}
	}
}

// NewRun creates the scenario's run with the fleet's catalog at GenEpoch.
func (s Scenario) NewRun(name string) (fleetupdate.Run, error) {
	return fleetupdate.New(name, s.Spec, s.Fleet.Members, s.Fleet.CatalogAt(GenEpoch))
}

// Simulation is a scenario with what happens while it runs: user actions,
// and how the host's upgrades go.
type Simulation struct {
	Scenario
	Actions     []Action
	Seed        uint64
	FailureRate float64
	Jitter      time.Duration
	Script      map[string][]Outcome
	Approvals   Approvals
}

// Simulations generates scenarios with user actions in their first three
// weeks (stops, resumes, skips of members, groups, stages and after-stage
// waits, some naming nothing; member changes: new windows, leaving the
// fleet; a stale catalog; gates completed by a user, some before they are
// reached, some unknown: see ActionsFor) and hosts that fail some upgrades
// (AKS-like codes, and NodeImageVersionNotAvailable) and approve gates by a
// policy (Approvals: at once, after a delay, after a random delay, or
// never). Action times fall on quarter hours, as windows and upgrade
// durations do, so events often coincide.
func Simulations() *rapid.Generator[Simulation] {
	return rapid.Custom(func(t *rapid.T) Simulation {
		s := Simulation{Scenario: Scenarios().Draw(t, "scenario")}
		if rapid.Bool().Draw(t, "noMinorSkips") {
			// Half the fleets have no 1.28 member, which a 1.30 target fails
			// at once (UpgradeNotAllowed), so more runs go the distance.
			for i := range s.Fleet.Members {
				if strings.HasPrefix(s.Fleet.Members[i].KubernetesVersion, "1.28.") {
					s.Fleet.Members[i].KubernetesVersion = "1.29.4"
				}
			}
		}
		s.Seed = rapid.Uint64().Draw(t, "seed")
		s.FailureRate = rapid.SampledFrom([]float64{0, 0, 0.05, 0.2}).Draw(t, "failureRate")
		s.Jitter = rapid.SampledFrom([]time.Duration{0, 0, 15 * time.Minute}).Draw(t, "jitter")
		s.Approvals = rapid.SampledFrom([]Approvals{{}, {}, {Delay: time.Hour}, {Delay: 15 * time.Minute, Spread: 24 * time.Hour}, {Never: true}}).Draw(t, "approvals")
		names := make([]string, len(s.Fleet.Members))
		for i, m := range s.Fleet.Members {
			names[i] = m.Name
		}
		for range rapid.SampledFrom([]int{0, 0, 0, 1, 2, 3}).Draw(t, "scripted") {
			m := rapid.SampledFrom(names).Draw(t, "scriptedMember")
			o := rapid.SampledFrom([]Outcome{
				{Code: "QuotaExceeded", Message: "scripted: quota exceeded"},
				{Code: fleetupdate.CodeNodeImageVersionNotAvailable, Message: "scripted: the node image version is not available in the region"},
			}).Draw(t, "scriptedOutcome")
			if s.Script == nil {
				s.Script = map[string][]Outcome{}
			}
			s.Script[m] = append(s.Script[m], o)
		}
		stages, groups := []string{"default"}, []string{"default"}
		gates := []string{"nowhere/Before/0"} // relative gate ids (ActionsFor); one is unknown
		addGates := func(scope string, before, after []fleetupdate.GateConfiguration) {
			for i := range before {
				gates = append(gates, fmt.Sprintf("%s/%s/%d", scope, fleetupdate.Before, i))
			}
			for i := range after {
				gates = append(gates, fmt.Sprintf("%s/%s/%d", scope, fleetupdate.After, i))
			}
		}
		if st := s.Spec.Strategy; st != nil {
			stages, groups = nil, nil
			for _, sg := range st.Stages {
				addGates(sg.Name, sg.BeforeGates, sg.AfterGates)
				for _, g := range sg.Groups {
					addGates(sg.Name+"/"+g.Name, g.BeforeGates, g.AfterGates)
				}
				stages = append(stages, sg.Name)
				if len(sg.Groups) == 0 {
					groups = append(groups, sg.Name) // its implicit group
				}
				for _, g := range sg.Groups {
					groups = append(groups, g.Name)
				}
			}
		}
		for range rapid.IntRange(0, 8).Draw(t, "actions") {
			at := GenEpoch.Add(time.Duration(rapid.IntRange(0, 21*24*4).Draw(t, "quarterHours")) * 15 * time.Minute)
			var ev fleetupdate.Event
			switch rapid.IntRange(0, 7).Draw(t, "action") {
			case 0:
				ev = fleetupdate.Stop{}
			case 1, 2: // resumes a stopped or failed run
				ev = fleetupdate.Start{}
			case 3:
				var targets []fleetupdate.SkipTarget
				for range rapid.IntRange(1, 2).Draw(t, "targets") {
					var tg fleetupdate.SkipTarget
					switch rapid.IntRange(0, 4).Draw(t, "targetType") {
					case 0, 1:
						tg = fleetupdate.SkipTarget{Type: fleetupdate.TargetMember, Name: rapid.SampledFrom(names).Draw(t, "skipMember")}
					case 2:
						tg = fleetupdate.SkipTarget{Type: fleetupdate.TargetGroup, Name: rapid.SampledFrom(slices.Concat(groups, []string{"nowhere"})).Draw(t, "skipGroup")}
					case 3:
						tg = fleetupdate.SkipTarget{Type: fleetupdate.TargetStage, Name: rapid.SampledFrom(stages).Draw(t, "skipStage")}
					default:
						tg = fleetupdate.SkipTarget{Type: fleetupdate.TargetAfterStageWait, Name: rapid.SampledFrom(stages).Draw(t, "skipWait")}
					}
					targets = append(targets, tg)
				}
				ev = fleetupdate.Skip{Targets: targets}
			case 4, 5:
				m := s.Fleet.Members[rapid.IntRange(0, len(names)-1).Draw(t, "changedMember")]
				m.NodePools = slices.Clone(m.NodePools)
				if rapid.Bool().Draw(t, "newWindows") {
					m.AutoUpgradeWindow, m.NodeOSUpgradeWindow = nil, nil
					if rapid.Bool().Draw(t, "hasWindows") {
						m.AutoUpgradeWindow = Windows().Draw(t, "autoUpgradeWindow")
						m.NodeOSUpgradeWindow = Windows().Draw(t, "nodeOSUpgradeWindow")
					}
				}
				ev = fleetupdate.MemberChanged{Member: m, Removed: rapid.IntRange(0, 3).Draw(t, "removed") == 0}
			case 7: // a user approves a gate (early, or before it is reached, or an unknown one)
				ev = fleetupdate.CompleteGate{Gate: fleetupdate.GateID(rapid.SampledFrom(gates).Draw(t, "gate"))}
			default:
				// A catalog read from a stale cache: what the fleet offered earlier.
				ev = fleetupdate.CatalogChanged{Catalog: s.Fleet.CatalogAt(at.AddDate(0, 0, -rapid.IntRange(1, 30).Draw(t, "staleDays")))}
			}
			s.Actions = append(s.Actions, Action{At: at, Event: ev})
		}
		return s
	})
}

// Host returns a host for the simulation, on a copy of its fleet.
func (s Simulation) Host() *Host {
	h := NewHost(s.Fleet.Clone(), s.Seed)
	h.FailureRate, h.Jitter = s.FailureRate, s.Jitter
	h.Script = s.Script
	h.Approvals = s.Approvals
	return h
}

// ActionsFor returns the simulation's actions for a run named run: the Gate
// of a CompleteGate in Actions is relative to the run ("stage/Before/0",
// "stage/group/After/1"), and here gets the run's name in front (GateID).
func (s Simulation) ActionsFor(run string) []Action {
	out := slices.Clone(s.Actions)
	for i, a := range out {
		if c, ok := a.Event.(fleetupdate.CompleteGate); ok {
			c.Gate = fleetupdate.GateID(run + "/" + string(c.Gate))
			out[i].Event = c
		}
	}
	return out
}

// Simulate runs the simulation from GenEpoch with opt (its Start, when
// zero, becomes GenEpoch; its Actions are replaced by the simulation's) on
// a new run named name and a new host, and returns the trace and the host.
func (s Simulation) Simulate(name string, opt Options) (Trace, *Host, error) {
	run, err := s.NewRun(name)
	if err != nil {
		return Trace{}, nil, err
	}
	if opt.Start.IsZero() {
		opt.Start = GenEpoch
	}
	opt.Actions = s.ActionsFor(name)
	h := s.Host()
	return Simulate(run, h, opt), h, nil
}
