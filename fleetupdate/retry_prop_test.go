package fleetupdate_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
)

// retriedByStatus is the rule Run.Retry documents, read off the status:
// Failed; Skipped by the system for a reason other than being at target;
// skipped by a user, when asked; not finished, when asked; never a member
// that left the fleet, whatever its state (one that left while it was being
// upgraded can end Failed); a Failed member of a group a user skipped (it
// was being upgraded then) as skipped by the user; an unfinished member
// with an attempt (the persisted form's attempt) as Failed.
func retriedByStatus(m fleetupdate.MemberStatus, removed, attempted, groupSkipped bool, opt fleetupdate.RetryOptions) bool {
	if removed {
		return false
	}
	switch m.Status.State {
	case fleetupdate.Failed:
		return !groupSkipped || opt.UserSkipped
	case fleetupdate.NotStarted, fleetupdate.Pending:
		return attempted || opt.Unfinished
	case fleetupdate.Skipped:
		switch msg := m.Message; {
		case msg == "member left the fleet", strings.Contains(msg, "already at"), msg == "nothing to upgrade":
			return false
		case strings.HasPrefix(msg, "skipped by user"):
			return opt.UserSkipped
		}
		return true
	}
	return false
}

// consistentAgain is the rule's selection for a retried member: one a
// Consistent run skipped (the system, not a user; the only reason is no
// consistent image for a pool) goes in a Consistent run, as pinning the
// first run's selection would upgrade it in part; every other member gets
// a pinned (Custom), Latest or no selection.
func consistentAgain(m fleetupdate.MemberStatus, mcu fleetupdate.ManagedClusterUpdate) bool {
	return mcu.Upgrade.Type != fleetupdate.ControlPlaneOnly && mcu.NodeImageSelection != nil &&
		mcu.NodeImageSelection.Type == fleetupdate.Consistent &&
		m.Status.State == fleetupdate.Skipped && !strings.HasPrefix(m.Message, "skipped by user")
}

// meantPatch is the patch a minor-only target means in a region of the
// catalog: the newest it offers, else the target as written.
func meantPatch(target string, cat fleetupdate.Catalog, region string) string {
	t, err := kversion.Parse(target)
	if err != nil {
		return target
	}
	var offered []kversion.Version
	for _, s := range cat.Regions[region].KubernetesVersions {
		if v, err := kversion.Parse(s); err == nil {
			offered = append(offered, v)
		}
	}
	if v, err := kversion.Resolve(t, offered); err == nil {
		return v.String()
	}
	return t.String()
}

type placeOf struct{ stage, group string }

func placesOf(st fleetupdate.Status) map[string]placeOf {
	out := map[string]placeOf{}
	for _, s := range st.Stages {
		for _, g := range s.Groups {
			for _, m := range g.Members {
				out[m.Name] = placeOf{s.Name, g.Name}
			}
		}
	}
	return out
}

// Retry over generated simulations: the plan holds exactly the members the
// rule names, each once, in the group the first run had it in; New accepts
// every run of it; and run by a host whose upgrades now succeed, each retry
// asks for exactly the Kubernetes version and node images the first run
// chose, and finishes every member unless something outside the retry holds
// it (a rule that refuses the upgrade, a version gone from the region, a
// window that does not open in time).
func TestRetryOfSimulatedRunsPinsWhatTheFirstRunChose(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sim := fake.Simulations().Draw(t, "sim")
		// More failures than the generator's, so more members are pinned.
		sim.FailureRate = max(sim.FailureRate, rapid.SampledFrom([]float64{0, 0.3, 0.7}).Draw(t, "failureRate"))
		opt := fleetupdate.RetryOptions{UserSkipped: rapid.Bool().Draw(t, "userSkipped"), Unfinished: rapid.Bool().Draw(t, "unfinished")}
		moveMembers(t, &sim)
		addUnofferedPools(t, &sim)
		tr, h, err := sim.Simulate("first", simHorizon)
		if err != nil {
			t.Fatalf("simulate: %v", err)
		}
		first := tr.Run
		plan, err := first.Retry(opt)
		if !first.Done() {
			if !errors.Is(err, fleetupdate.ErrInvalidTransition) {
				t.Fatalf("a run that is %s retried: %v", first.State(), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("retry of a %s run: %v", first.State(), err)
		}
		var decoded fleetupdate.Run
		b, _ := json.Marshal(first)
		if err := json.Unmarshal(b, &decoded); err != nil {
			t.Fatal(err)
		}
		if again, err := decoded.Retry(opt); err != nil || !jsonEqual(again, plan) {
			t.Fatalf("the decoded run retries otherwise: %v", err)
		}

		var saved struct {
			State struct {
				Members []struct {
					Name    string
					Removed bool
					Attempt int
				}
				Groups []struct {
					Name    string
					Skipped bool
				}
			}
		}
		if err := json.Unmarshal(b, &saved); err != nil {
			t.Fatal(err)
		}
		removed, attempted, skippedGroup := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, m := range saved.State.Members {
			removed[m.Name], attempted[m.Name] = m.Removed, m.Attempt > 0
		}
		for _, g := range saved.State.Groups {
			skippedGroup[g.Name] = g.Skipped
		}
		st := first.Status()
		places := placesOf(st)
		mcu := first.Spec().ManagedClusterUpdate
		var want []string
		fresh := map[string]bool{}
		for _, s := range st.Stages {
			for _, g := range s.Groups {
				for _, m := range g.Members {
					if retriedByStatus(m, removed[m.Name], attempted[m.Name], skippedGroup[g.Name], opt) {
						want = append(want, m.Name)
						fresh[m.Name] = consistentAgain(m, mcu)
					}
				}
			}
		}
		slices.Sort(want)
		var got []string
		for _, rr := range plan.Runs {
			if len(rr.Members) == 0 {
				t.Fatalf("retry run %s has no members", rr.Name)
			}
			got = append(got, memberNamesOf(rr.Members)...)
			rmcu := rr.Spec.ManagedClusterUpdate
			isConsistent := rmcu.NodeImageSelection != nil && rmcu.NodeImageSelection.Type == fleetupdate.Consistent
			for _, m := range rr.Members {
				if fresh[m.Name] != isConsistent {
					t.Fatalf("%s: in retry %s with selection %+v; a Consistent one is the rule's answer: %v", m.Name, rr.Name, rmcu.NodeImageSelection, fresh[m.Name])
				}
				if fresh[m.Name] && mcu.Upgrade.Type != fleetupdate.NodeImageOnly {
					if k, want := rmcu.Upgrade.KubernetesVersion, meantPatch(mcu.Upgrade.KubernetesVersion, plan.Catalog, m.Region); k != want {
						t.Fatalf("%s: retry %s targets %s; the first run meant %s in %s", m.Name, rr.Name, k, want, m.Region)
					}
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Fatalf("retried %v, want %v", got, want)
		}

		// What the first run chose: the inputs of each member's first attempt.
		pinned := map[string]fleetupdate.UpgradeMember{}
		for _, u := range tr.Upgrades {
			if strings.HasSuffix(string(u.Command.Op), "/1") {
				pinned[u.Command.Member] = u.Command
			}
		}

		start := tr.End
		for _, rr := range plan.Runs {
			r2, err := fleetupdate.New(rr.Name, rr.Spec, rr.Members, h.Fleet.CatalogAt(start))
			if err != nil {
				t.Fatalf("New refuses retry run %s: %v", rr.Name, err)
			}
			for name, p := range placesOf(r2.Status()) {
				if p != places[name] {
					t.Fatalf("%s: in stage %s group %s, the first run had it in %s/%s", name, p.stage, p.group, places[name].stage, places[name].group)
				}
			}
			h2 := fake.NewHost(h.Fleet, sim.Seed)
			tr2 := fake.Simulate(r2, h2, fake.Options{Start: start, Horizon: simHorizon.Horizon, NoChanges: true})
			start = tr2.End
			for _, u := range tr2.Upgrades {
				p, ok := pinned[u.Command.Member]
				if !ok {
					continue
				}
				if u.Command.KubernetesVersion != p.KubernetesVersion || !slices.Equal(u.Command.NodeImages, p.NodeImages) {
					t.Fatalf("%s: retry %s asks for %s %v; the first run chose %s %v", u.Command.Member, rr.Name,
						u.Command.KubernetesVersion, u.Command.NodeImages, p.KubernetesVersion, p.NodeImages)
				}
			}
			checkRetryFinished(t, tr2.Run, tr2.Start.Add(simHorizon.Horizon), pinned)
		}
	})
}

// moveMembers makes some of the simulation's member changes also give the
// member another's labels and group (so label selectors would now place it
// elsewhere, which neither the run nor its retry follows) or another region
// of the fleet (whose catalog may not offer what the first run chose).
func moveMembers(t *rapid.T, sim *fake.Simulation) {
	ms := sim.Fleet.Members
	for i, a := range sim.Actions {
		mc, ok := a.Event.(fleetupdate.MemberChanged)
		if !ok || mc.Removed {
			continue
		}
		if rapid.Bool().Draw(t, "relabelled") {
			other := ms[rapid.IntRange(0, len(ms)-1).Draw(t, "labelsOf")]
			mc.Member.Labels, mc.Member.Group = maps.Clone(other.Labels), other.Group
		}
		if rapid.IntRange(0, 3).Draw(t, "moved") == 0 {
			mc.Member.Region = ms[rapid.IntRange(0, len(ms)-1).Draw(t, "regionOf")].Region
		}
		sim.Actions[i].Event = mc
	}
}

// addUnofferedPools gives some members a pool of a family no region offers,
// so a Consistent run skips them (no consistent image) and a Latest one
// leaves the pool alone.
func addUnofferedPools(t *rapid.T, sim *fake.Simulation) {
	if !rapid.Bool().Draw(t, "unofferedFamily") {
		return
	}
	for i := range sim.Fleet.Members {
		if rapid.IntRange(0, 4).Draw(t, "unofferedPool") == 0 {
			m := &sim.Fleet.Members[i]
			m.NodePools = append(slices.Clone(m.NodePools), fleetupdate.NodePool{Name: "arm", NodeImageVersion: "AKSUbuntu-2204gen2arm64containerd-202601.05.0"})
		}
	}
}

// checkRetryFinished: with upgrades that succeed, every member ends
// Completed, except one the minor-version or skew rule refuses again, one
// the first run chose nothing for that turns out to have nothing to do, and
// members a blocker holds (the run failed on such a refusal, a version its
// region no longer offers, a window or gate that does not open before the
// simulation ends, or ends while one is being upgraded).
func checkRetryFinished(t *rapid.T, r fleetupdate.Run, deadline time.Time, pinned map[string]fleetupdate.UpgradeMember) {
	st := r.Status()
	at, ok := r.NextWake()
	blocked := ok && at.After(deadline) // the simulation ended first
	for _, s := range st.Stages {
		for _, g := range s.Groups {
			for _, m := range g.Members {
				msg := m.Message
				if e := m.Status.Error; e != nil {
					msg = e.Code + ": " + e.Message
				}
				switch m.Status.State {
				case fleetupdate.Running:
					blocked = true // the simulation ended during its upgrade
				case fleetupdate.Failed:
					if m.Status.Error.Code != "UpgradeNotAllowed" {
						t.Fatalf("%s failed in the retry with %s", m.Name, msg)
					}
					blocked = true
				case fleetupdate.Pending:
					if strings.Contains(msg, "not available") || strings.HasPrefix(msg, "maintenance window is not open") {
						blocked = true
					}
				case fleetupdate.Skipped:
					if _, ok := pinned[m.Name]; ok {
						t.Fatalf("%s: the first run asked for an upgrade, the retry skipped it: %s", m.Name, msg)
					}
				}
			}
		}
	}
	if s := r.State(); s != fleetupdate.Completed && s != fleetupdate.Skipped && !blocked {
		b, _ := json.Marshal(st)
		t.Fatalf("retry %s ended %s with nothing holding it:\n%s", r.Name(), s, b)
	}
}

func memberNamesOf(ms []fleetupdate.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// Hand edits of a finished run's persisted member and group records: what
// the decoder accepts, Retry plans without panicking, and every plan it
// gives is one New accepts, over members of the decoded run that did not
// complete or leave the fleet, each once and in its group there.
func TestRetryOfHandEditedRuns(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sim := fake.Simulations().Draw(t, "sim")
		sim.FailureRate = max(sim.FailureRate, 0.3)
		tr, h, err := sim.Simulate("first", simHorizon)
		if err != nil {
			t.Fatalf("simulate: %v", err)
		}
		if !tr.Run.Done() {
			t.Skip("not finished")
		}
		b, _ := json.Marshal(tr.Run)
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		state := doc["state"].(map[string]any)
		members, _ := state["members"].([]any)
		groups, _ := state["groups"].([]any)
		if len(members) == 0 || len(groups) == 0 {
			t.Skip("no members")
		}
		for range rapid.IntRange(1, 3).Draw(t, "edits") {
			m := members[rapid.IntRange(0, len(members)-1).Draw(t, "member")].(map[string]any)
			switch rapid.IntRange(0, 6).Draw(t, "edit") {
			case 0:
				m["state"] = rapid.SampledFrom([]string{"NotStarted", "Pending", "Running", "Completed", "Skipped", "Failed"}).Draw(t, "state")
			case 1:
				m["removed"] = rapid.Bool().Draw(t, "removed")
			case 2:
				m["attempt"] = rapid.IntRange(0, 3).Draw(t, "attempt")
			case 3:
				delete(m, "pinned")
			case 4:
				m["message"] = rapid.SampledFrom([]string{"skipped by user", "member left the fleet", "nothing to upgrade", "already at target: x", "anything"}).Draw(t, "message")
			case 5:
				g := groups[rapid.IntRange(0, len(groups)-1).Draw(t, "group")].(map[string]any)
				g["skipped"] = rapid.Bool().Draw(t, "skipped")
			case 6:
				if p, ok := m["pinned"].(map[string]any); ok {
					p["kubernetesVersion"] = rapid.SampledFrom([]string{"1.30.1", "1.30.9", "1.31.1", "1.30"}).Draw(t, "pinnedVersion")
				}
			}
		}
		edited, _ := json.Marshal(doc)
		var r fleetupdate.Run
		if err := json.Unmarshal(edited, &r); err != nil {
			return // refused: Retry never sees it
		}
		opt := fleetupdate.RetryOptions{UserSkipped: rapid.Bool().Draw(t, "userSkipped"), Unfinished: rapid.Bool().Draw(t, "unfinished")}
		plan, err := r.Retry(opt)
		if err != nil {
			if !r.Done() && errors.Is(err, fleetupdate.ErrInvalidTransition) || errors.Is(err, fleetupdate.ErrInvalidEncoding) {
				return
			}
			t.Fatalf("retry of an accepted edited run: %v", err)
		}
		st := r.Status()
		places := placesOf(st)
		state2 := map[string]fleetupdate.State{}
		for _, s := range st.Stages {
			for _, g := range s.Groups {
				for _, m := range g.Members {
					state2[m.Name] = m.Status.State
				}
			}
		}
		seen := map[string]bool{}
		for _, rr := range plan.Runs {
			r2, err := fleetupdate.New(rr.Name, rr.Spec, rr.Members, h.Fleet.CatalogAt(tr.End))
			if err != nil {
				t.Fatalf("New refuses retry run %s of an edited run: %v", rr.Name, err)
			}
			for name, p := range placesOf(r2.Status()) {
				if p != places[name] || seen[name] {
					t.Fatalf("%s: in %v (seen %v), the edited run had it in %v", name, p, seen[name], places[name])
				}
				seen[name] = true
				if s := state2[name]; s == fleetupdate.Completed || s == fleetupdate.Running {
					t.Fatalf("%s is %s in the edited run, and retried", name, s)
				}
			}
		}
	})
}
