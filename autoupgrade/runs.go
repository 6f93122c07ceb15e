package autoupgrade

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// upgradeType is the type of the channel's runs.
func (e *evaluator) upgradeType() fleetupdate.UpgradeType {
	switch {
	case !e.p.Channel.kubernetes():
		return fleetupdate.NodeImageOnly
	case e.p.ChainNodeImageUpgrade:
		return fleetupdate.ControlPlaneOnly
	}
	return fleetupdate.Full
}

// spec returns the spec of a run of type t to Kubernetes version k, with the
// profile's whole strategy.
func (e *evaluator) spec(t fleetupdate.UpgradeType, k string) fleetupdate.Spec {
	s := fleetupdate.Spec{Strategy: e.p.Strategy}
	s.ManagedClusterUpdate.Upgrade = fleetupdate.UpgradeSpec{Type: t, KubernetesVersion: k}
	switch {
	case t == fleetupdate.ControlPlaneOnly:
	case e.p.Channel == NodeImage:
		s.ManagedClusterUpdate.NodeImageSelection = &fleetupdate.NodeImageSelection{Type: fleetupdate.Consistent}
	case e.p.Channel == SecurityPatch:
		// Custom with the Linux families only: "If the nodes belong to a family without
		// a matching image version in this field, they are not upgraded" (Fleet run.tsp).
		sel := &fleetupdate.NodeImageSelection{Type: fleetupdate.Custom}
		for _, img := range e.out.Target.NodeImages {
			sel.CustomNodeImageVersions = append(sel.CustomNodeImageVersions, fleetupdate.NodeImageVersion{Version: img})
		}
		s.ManagedClusterUpdate.NodeImageSelection = sel
	case e.p.NodeImageSelection != nil:
		s.ManagedClusterUpdate.NodeImageSelection = &fleetupdate.NodeImageSelection{Type: e.p.NodeImageSelection.Type}
	}
	return s
}

// mainRuns generates the channel's runs for the included members: one run
// for all of them, except that a member whose latest attempt under this
// profile failed gets a run of its own, so that it cannot fail the others
// (Azure/AKS#5655: one stopped cluster fails the whole run).
func (e *evaluator) mainRuns(included []Member) {
	if len(included) == 0 {
		return
	}
	last, lastRun := map[string]fleetupdate.State{}, map[string]string{}
	for _, r := range e.hist {
		if r.Profile != e.p.Name || r.After != "" {
			continue
		}
		for _, m := range r.Members {
			last[m.Name], lastRun[m.Name] = m.State, r.Name
		}
	}
	t := e.upgradeType()
	k := ""
	if t != fleetupdate.NodeImageOnly {
		k = e.target.String()
	}
	spec := e.spec(t, k)
	var together, alone []Member
	for _, m := range included {
		if last[m.Name] == fleetupdate.Failed {
			alone = append(alone, m)
		} else {
			together = append(together, m)
		}
	}
	what := "node images " + strings.Join(e.out.Target.NodeImages, ", ")
	if k != "" {
		what = "Kubernetes " + k
		if t == fleetupdate.ControlPlaneOnly {
			what += " (control plane; node images follow)"
		}
	}
	if len(together) > 0 {
		e.add(spec, together, "", fmt.Sprintf("%s behind %s", count(len(together)), what))
	}
	for _, m := range alone {
		e.add(spec, []Member{m}, "", fmt.Sprintf("retry of %s, which failed in %s, alone: %s", m.Name, lastRun[m.Name], what))
	}
}

func count(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}

// followUps generates the chained NodeImageOnly runs: a member whose latest
// upgrade under this profile was a ControlPlaneOnly run that is now done gets
// its node images, unless a run following that one already upgraded (or
// skipped) it. A member whose latest follow-up attempt failed gets a run of
// its own.
func (e *evaluator) followUps(included []Member) {
	if !e.p.Channel.kubernetes() {
		return
	}
	inMain := map[string]bool{}
	for _, m := range included {
		inMain[m.Name] = true
	}
	latest := map[string]int{} // member → index in hist of its latest completed upgrade under this profile
	type key struct{ run, member string }
	covered := map[key]bool{}
	lastState, lastRun := map[key]fleetupdate.State{}, map[key]string{}
	for i, r := range e.hist {
		if r.Profile != e.p.Name {
			continue
		}
		for _, m := range r.Members {
			switch {
			case r.After == "" && m.State == fleetupdate.Completed:
				latest[m.Name] = i
			case r.After != "":
				k := key{r.After, m.Name}
				lastState[k], lastRun[k] = m.State, r.Name
				if m.State == fleetupdate.Completed || m.State == fleetupdate.Skipped {
					covered[k] = true
				}
			}
		}
	}
	owed := map[int][]Member{} // hist index of a ControlPlaneOnly run → members owed its follow-up
	for _, m := range e.inScope {
		i, ok := latest[m.Name]
		if !ok || inMain[m.Name] {
			continue
		}
		r := e.hist[i]
		// "once the first completes" (issue 12): the whole ControlPlaneOnly run is done.
		if r.Type != fleetupdate.ControlPlaneOnly || covered[key{r.Name, m.Name}] || holds(r.State, fleetupdate.NotStarted) {
			continue
		}
		if e.heldBack(m) {
			continue
		}
		owed[i] = append(owed[i], m)
	}
	for i, r := range e.hist {
		ms := owed[i]
		if len(ms) == 0 {
			continue
		}
		spec := e.spec(fleetupdate.NodeImageOnly, "")
		var together, alone []Member
		for _, m := range ms {
			if lastState[key{r.Name, m.Name}] == fleetupdate.Failed {
				alone = append(alone, m)
			} else {
				together = append(together, m)
			}
		}
		if len(together) > 0 {
			e.addAfter(spec, together, r, fmt.Sprintf("node images for %s upgraded by %s", count(len(together)), r.Name))
		}
		for _, m := range alone {
			e.addAfter(spec, []Member{m}, r, fmt.Sprintf("retry of %s's node images, which failed in %s, alone", m.Name, lastRun[key{r.Name, m.Name}]))
		}
	}
}

func (e *evaluator) addAfter(spec fleetupdate.Spec, ms []Member, cp RunRecord, why string) {
	e.addRun(spec, ms, cp.Name, dashed(cp.KubernetesVersion)+"-nodes", why)
}

func (e *evaluator) add(spec fleetupdate.Spec, ms []Member, after, why string) {
	label := ""
	switch up := spec.ManagedClusterUpdate.Upgrade; {
	case up.Type == fleetupdate.Full:
		label = dashed(up.KubernetesVersion)
	case up.Type == fleetupdate.ControlPlaneOnly:
		label = dashed(up.KubernetesVersion) + "-cp"
	case e.p.Channel == SecurityPatch:
		label = "security"
	default:
		label = "nodes"
	}
	e.addRun(spec, ms, after, label, why)
}

func dashed(v string) string { return strings.ReplaceAll(v, ".", "-") }

// nameKey is the upgrade specification a run's name follows from.
type nameKey struct {
	Profile string                           `json:"profile"`
	Channel Channel                          `json:"channel"`
	Update  fleetupdate.ManagedClusterUpdate `json:"update"`
	Images  []string                         `json:"images,omitempty"`
	After   string                           `json:"after,omitempty"`
}

func (e *evaluator) addRun(spec fleetupdate.Spec, ms []Member, after, label, why string) {
	k := nameKey{Profile: e.p.Name, Channel: e.p.Channel, Update: spec.ManagedClusterUpdate, After: after}
	if !e.p.Channel.kubernetes() {
		k.Images = e.out.Target.NodeImages
	}
	g := GeneratedRun{Name: e.name(k, label), Profile: e.p.Name, Spec: e.trim(spec, ms), Members: fleetMembers(ms), After: after, Why: why}
	e.out.Runs = append(e.out.Runs, g)
}

// name derives a run's name from its upgrade specification. Fleet
// (update-orchestration.md): "the name of the update run is based on the
// auto-upgrade profile's upgrade specification … the existing update run
// isn't modified". A name already in the history gets the next count:
// <profile>-<label>-<hash>, then -2, -3, … for catch-up runs of the same
// specification. Names keep Azure's rule: at most 50 characters of
// [a-z0-9-], the profile's name shortened to fit.
func (e *evaluator) name(k nameKey, label string) string {
	f := fnv.New32a() // a name, not a secret: FNV keeps the package off crypto
	f.Write(compact(k))
	h := fmt.Sprintf("%08x", f.Sum32())
	for n := 1; ; n++ {
		tail := "-" + label + "-" + h
		if n > 1 {
			tail += fmt.Sprintf("-%d", n)
		}
		prefix := e.p.Name
		if len(prefix)+len(tail) > 50 {
			prefix = strings.TrimRight(prefix[:max(0, 50-len(tail))], "-")
		}
		name := prefix + tail
		if prefix == "" {
			name = tail[1:]
		}
		if !e.taken[name] {
			e.taken[name] = true
			return name
		}
	}
}

// trim drops from the spec's strategy the stages and groups that hold none of
// the run's members, so that a catch-up run for late members does not sit
// through the waits of stages whose members are done.
func (e *evaluator) trim(spec fleetupdate.Spec, ms []Member) fleetupdate.Spec {
	if spec.Strategy == nil {
		return spec
	}
	probe, err := fleetupdate.New("trim-check", spec, fleetMembers(ms), fleetupdate.Catalog{})
	if err != nil {
		return spec // Plan's final check reports it
	}
	counts := map[string]int{} // "stage/group" → members of the run in it
	for _, s := range probe.Status().Stages {
		for _, g := range s.Groups {
			counts[s.Name+"/"+g.Name] += len(g.Members)
		}
	}
	out := &fleetupdate.Strategy{}
	for _, stage := range spec.Strategy.Stages {
		if len(stage.Groups) == 0 { // a stage whose members a selector chooses
			n := 0
			for k, c := range counts {
				if strings.HasPrefix(k, stage.Name+"/") {
					n += c
				}
			}
			if n > 0 {
				out.Stages = append(out.Stages, stage)
			}
			continue
		}
		kept := stage
		kept.Groups = nil
		for _, g := range stage.Groups {
			if counts[stage.Name+"/"+g.Name] > 0 {
				kept.Groups = append(kept.Groups, g)
			}
		}
		if len(kept.Groups) > 0 {
			out.Stages = append(out.Stages, kept)
		}
	}
	spec.Strategy = out
	return spec
}
