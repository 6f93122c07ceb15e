package autoupgrade

import (
	"errors"
	"fmt"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// History is what earlier generated runs did: one record per run a host
// created from a GeneratedRun, of any profile of the fleet, in the order
// they were created. The host keeps it (its JSON is plain data) and brings
// each record up to date from its run with GeneratedRun.Record before
// calling Plan. A record of a finished run may be dropped once nothing
// below needs it: dropped, a ControlPlaneOnly run loses its chained run, a
// failure its retry alone, and a name may be generated again (the host then
// finds it taken, records the existing run and evaluates again).
//
// Plan reads from it:
//   - which members an unfinished run still holds, so that no member is in
//     two runs at once (any profile's runs count), and which it waits for
//     in vain (Evaluation.Stale);
//   - which run names are taken, so that an existing run is never modified;
//   - each member's latest outcome under this profile, so that a member that
//     failed is retried in a run of its own (it cannot stop the others);
//   - which ControlPlaneOnly runs are done and for whom, for chained
//     NodeImageOnly runs.
type History []RunRecord

// RunRecord is what one generated run did, per member.
type RunRecord struct {
	Name              string                  `json:"name"`
	Profile           string                  `json:"profile"`
	Type              fleetupdate.UpgradeType `json:"upgradeType"`
	KubernetesVersion string                  `json:"kubernetesVersion,omitempty"`
	// After names the ControlPlaneOnly run a chained NodeImageOnly run follows.
	After string `json:"after,omitempty"`
	// State is the run's state: NotStarted for a run created and not yet
	// started, then as Run.State reports it.
	State   fleetupdate.State `json:"state"`
	Members []MemberOutcome   `json:"members"`
}

// MemberOutcome is one member's state in a run.
type MemberOutcome struct {
	Name  string            `json:"name"`
	State fleetupdate.State `json:"state"`
}

// Record returns the record of run r, which the host created from g: the
// run's state and each of g's members' state in it. A member r does not
// know (outside every stage of the strategy) shows NotStarted.
func (g GeneratedRun) Record(r fleetupdate.Run) RunRecord {
	rec := g.record(r.State(), fleetupdate.NotStarted)
	for i := range rec.Members {
		if st, ok := r.Member(rec.Members[i].Name); ok {
			rec.Members[i].State = st.Status.State
		}
	}
	return rec
}

// Created returns the record of a run just created from g and not yet
// started: the run and every member NotStarted. A host appends it when it
// creates the run, and replaces it with Record as the run goes on.
func (g GeneratedRun) Created() RunRecord {
	return g.record(fleetupdate.NotStarted, fleetupdate.NotStarted)
}

// record is g's record with the run in state run and every member in state m.
func (g GeneratedRun) record(run, m fleetupdate.State) RunRecord {
	up := g.Spec.ManagedClusterUpdate.Upgrade
	rec := RunRecord{Name: g.Name, Profile: g.Profile, Type: up.Type, KubernetesVersion: up.KubernetesVersion, After: g.After, State: run}
	for _, gm := range g.Members {
		rec.Members = append(rec.Members, MemberOutcome{Name: gm.Name, State: m})
	}
	return rec
}

// holds reports whether a run in state run still holds a member in state m:
// the run is not finished (a Stopped run is paused by a user, so it holds
// its members until it is started again or dropped), and neither is the
// member. Failed runs hold nobody: their members are caught up.
func holds(run, m fleetupdate.State) bool {
	switch run {
	case fleetupdate.Completed, fleetupdate.Skipped, fleetupdate.Failed:
		return false
	}
	return !final(m)
}

// final reports whether a member's state in a run can no longer change
// without a user's action.
func final(s fleetupdate.State) bool {
	return s == fleetupdate.Completed || s == fleetupdate.Skipped || s == fleetupdate.Failed
}

var states = map[fleetupdate.State]bool{
	fleetupdate.NotStarted: true, fleetupdate.Running: true, fleetupdate.Stopping: true, fleetupdate.Stopped: true,
	fleetupdate.Skipped: true, fleetupdate.Failed: true, fleetupdate.Pending: true, fleetupdate.Completed: true,
}

func (h History) validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidHistory}, a...)...))
	}
	names := map[string]bool{}
	for i, r := range h {
		where := fmt.Sprintf("history[%d]", i)
		if r.Name == "" || names[r.Name] {
			bad("%s.name %q: required and unique", where, r.Name)
		}
		names[r.Name] = true
		if !states[r.State] {
			bad("%s (%s).state %q: not an update run state", where, r.Name, r.State)
		}
		switch r.Type {
		case fleetupdate.Full, fleetupdate.ControlPlaneOnly, fleetupdate.NodeImageOnly:
		default:
			bad("%s (%s).upgradeType %q: must be Full, ControlPlaneOnly or NodeImageOnly", where, r.Name, r.Type)
		}
		seen := map[string]bool{}
		for j, m := range r.Members {
			if m.Name == "" || seen[m.Name] {
				bad("%s (%s).members[%d].name %q: required and unique", where, r.Name, j, m.Name)
			}
			seen[m.Name] = true
			if !states[m.State] {
				bad("%s (%s).members[%d] (%s).state %q: not an update run state", where, r.Name, j, m.Name, m.State)
			}
		}
	}
	return errors.Join(errs...)
}
