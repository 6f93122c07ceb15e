package fleetupdate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/nodeimage"
	"github.com/fleetkit/fleetkit/window"
)

// schemaVersion is the persisted form's version; see the package doc,
// "Persisted form".
const schemaVersion = 2

// The persisted form of a Run (schema version 2): the inputs of New, then
// the state, by name. It holds no derived data: counters, the stage index,
// the in-flight set, op ids and each member's queue are computed again on
// decode, so they cannot disagree with what they derive from.
type runJSON struct {
	SchemaVersion int             `json:"schemaVersion"`
	Name          string          `json:"name"`
	Spec          json.RawMessage `json:"spec"`    // decoded as a Spec, strictly
	Members       []Member        `json:"members"` // as given to New: the run's members, sorted by name
	Catalog       Catalog         `json:"catalog"` // the current catalog
	State         stateJSON       `json:"state"`
}

type stateJSON struct {
	Clock      time.Time        `json:"clock"`
	Phase      State            `json:"phase"`
	StartTime  time.Time        `json:"startTime,omitzero"`
	EndTime    time.Time        `json:"endTime,omitzero"`
	Error      *ErrorDetail     `json:"error,omitempty"`
	Wakes      []time.Time      `json:"wakes,omitempty"`
	Selection  []string         `json:"selection,omitempty"`  // Consistent: the resolved (after Start, pinned) images
	Unresolved []unresolvedJSON `json:"unresolved,omitempty"` // Consistent: members with a pool that has no target
	Stages     []stageJSON      `json:"stages"`
	Groups     []groupJSON      `json:"groups"`
	Gates      []gateJSON       `json:"gates,omitempty"`
	Members    []memberJSON     `json:"members"`
}

type gateJSON struct {
	ID        GateID    `json:"gateId"`
	State     State     `json:"state"` // NotStarted, Pending, Completed, Skipped
	StartTime time.Time `json:"startTime,omitzero"`
	EndTime   time.Time `json:"endTime,omitzero"`
	StartAt   time.Time `json:"startAt,omitzero"` // ScheduledStart: when it completes by itself
}

type unresolvedJSON struct {
	Member string `json:"member"`
	Reason string `json:"reason"`
}

type stageJSON struct {
	Name        string    `json:"name"`
	Phase       string    `json:"phase"` // NotStarted, Before, Groups, Waiting (after-gates and wait), Done
	Starved     bool      `json:"starved,omitempty"`
	Skipped     bool      `json:"skipped,omitempty"`
	WaitSkipped bool      `json:"waitSkipped,omitempty"`
	StartTime   time.Time `json:"startTime,omitzero"`
	EndTime     time.Time `json:"endTime,omitzero"`
	WaitEnd     time.Time `json:"waitEnd,omitzero"`
}

type groupJSON struct {
	Name      string       `json:"name"`
	Skipped   bool         `json:"skipped,omitempty"`
	StartTime time.Time    `json:"startTime,omitzero"`
	EndTime   time.Time    `json:"endTime,omitzero"`
	Windows   []windowJSON `json:"windows"` // the group's distinct windows, in the order the run met them
}

type windowJSON struct {
	Window  *window.Schedule `json:"window"` // null: members with no window
	Reached bool             `json:"reached,omitempty"`
	Opening time.Time        `json:"opening,omitzero"`
}

type memberJSON struct {
	Name        string        `json:"name"`
	State       State         `json:"state"`
	Data        *Member       `json:"data,omitempty"` // only when changed since New
	WaitCatalog bool          `json:"waitCatalog,omitempty"`
	Removed     bool          `json:"removed,omitempty"`
	Attempt     int32         `json:"attempt,omitempty"`
	Pinned      *pinnedInputs `json:"pinned,omitempty"` // inputs of the first attempt
	Note        string        `json:"note,omitempty"`
	Message     string        `json:"message,omitempty"`
	StartTime   time.Time     `json:"startTime,omitzero"`
	EndTime     time.Time     `json:"endTime,omitzero"`
	Error       *ErrorDetail  `json:"error,omitempty"`
}

// pinnedInputs are a member's upgrade inputs of its first attempt, which
// its retries reuse: the run holds them as persisted.
type pinnedInputs struct {
	KubernetesVersion string      `json:"kubernetesVersion,omitempty"`
	NodeImages        []PoolImage `json:"nodeImages,omitempty"`
}

var stagePhaseNames = [...]string{stageNotStarted: "NotStarted", stageBefore: "Before", stageGroups: "Groups", stageWaiting: "Waiting", stageDone: "Done"}

// MarshalJSON encodes the run in the persisted form (see the package doc);
// UnmarshalJSON of the result gives a run that behaves identically.
//
// The zero Run encodes as null and decodes from it, so a Run can sit in any
// struct that is encoded before it holds one.
func (r Run) MarshalJSON() ([]byte, error) {
	if r.p == nil || r.s == nil {
		return []byte("null"), nil
	}
	out := r.persisted()
	st := &out.State
	st.Members = make([]memberJSON, 0, len(r.p.members))
	r.s.members.each(func(i int, m *memberRec) {
		st.Members = append(st.Members, r.memberJSON(i, m))
	})
	return json.Marshal(out)
}

// persisted is the run's persisted form without state.members, which
// memberJSON gives one by one.
func (r Run) persisted() runJSON {
	p, s := r.p, r.s
	out := runJSON{SchemaVersion: schemaVersion, Name: p.name, Spec: p.spec, Members: p.members, Catalog: s.catalog.src}
	if out.Members == nil {
		out.Members = []Member{}
	}
	st := &out.State
	st.Clock, st.Phase, st.StartTime, st.EndTime, st.Wakes = s.clock, s.phase, s.start, s.end, s.wakes
	if s.errCode != "" {
		st.Error = &ErrorDetail{Code: s.errCode, Message: s.errMsg}
	}
	for _, img := range s.selection {
		st.Selection = append(st.Selection, img.String())
	}
	for id, why := range s.unresolved {
		st.Unresolved = append(st.Unresolved, unresolvedJSON{p.members[id].Name, why})
	}
	slices.SortFunc(st.Unresolved, func(a, b unresolvedJSON) int { return strings.Compare(a.Member, b.Member) })
	st.Stages = make([]stageJSON, s.stages.len())
	s.stages.each(func(i int, sr *stageRec) {
		st.Stages[i] = stageJSON{p.stages[i].name, stagePhaseNames[sr.phase], sr.starved, sr.skipped, sr.waitSkipped, sr.start, sr.end, sr.waitEnd}
	})
	st.Groups = make([]groupJSON, 0, len(p.groups))
	s.groups.each(func(g int, gr *groupRec) {
		gj := groupJSON{Name: p.groups[g].name, Skipped: gr.userSkipped, StartTime: gr.start, EndTime: gr.end, Windows: make([]windowJSON, gr.buckets.n)}
		gr.buckets.each(func(i int, bk *bucketRec) {
			gj.Windows[i] = windowJSON{bk.sched, bk.reached, bk.opening}
		})
		st.Groups = append(st.Groups, gj)
	})
	s.gates.each(func(k int, g *gateRec) {
		st.Gates = append(st.Gates, gateJSON{p.gates[k].id, g.state, g.start, g.end, g.startAt})
	})
	return out
}

// memberJSON is the persisted form of member i, whose record is m.
func (r Run) memberJSON(i int, m *memberRec) memberJSON {
	mj := memberJSON{Name: m.data.Name, State: m.state(), WaitCatalog: m.waitCatalog, Removed: m.removed, Attempt: m.attempt,
		Note: m.tx().note, Message: m.tx().message, StartTime: m.start(), EndTime: m.end()}
	if m.data != &r.p.members[i] {
		mj.Data = m.data
	}
	if m.pinned != nil {
		mj.Pinned = m.pinned
	}
	if t := m.tx(); t.errCode != "" {
		mj.Error = &ErrorDetail{Code: t.errCode, Message: t.errMsg}
	}
	return mj
}

// encodesEqual reports whether two versions of one run (one plan) encode
// to the same bytes, without encoding the members they share: a step
// copies only the records it changes.
func encodesEqual(a, b Run) (bool, error) {
	if a.p != b.p {
		return false, nil
	}
	pa, pb := a.persisted(), b.persisted()
	pa.Members, pb.Members = nil, nil // the plan's, shared
	ea, err1 := json.Marshal(pa)
	eb, err2 := json.Marshal(pb)
	if err := errors.Join(err1, err2); err != nil || !bytes.Equal(ea, eb) {
		return false, err
	}
	for i := range a.p.members {
		ma, mb := a.s.members.get(i), b.s.members.get(i)
		if ma == mb {
			continue
		}
		ea, err1 := json.Marshal(a.memberJSON(i, ma))
		eb, err2 := json.Marshal(b.memberJSON(i, mb))
		if err := errors.Join(err1, err2); err != nil || !bytes.Equal(ea, eb) {
			return false, err
		}
	}
	return true, nil
}

// UnmarshalJSON decodes a run in the persisted form. It checks what it reads
// as strictly as New checks its inputs, and refuses, with an error naming the
// field, anything no sequence of events could produce. Schema version 1
// (fleetkit's first release) is read and checked the same way.
func (r *Run) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*r = Run{}
		return nil
	}
	in, ok := fastRunJSON(b)
	if !ok {
		var err error
		if in, err = slowRunJSON(b); err != nil {
			return err
		}
	}
	run, err := decodeRun(in)
	if err != nil {
		return err
	}
	*r = run
	return nil
}

// slowRunJSON decodes b into the persisted form with encoding/json, giving
// every error a malformed document deserves. (fastRunJSON decodes the
// documents this accepts, faster.)
func slowRunJSON(b []byte) (runJSON, error) {
	var head struct {
		SchemaVersion int `json:"schemaVersion"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return runJSON{}, fmt.Errorf("%w: run: %v", ErrInvalidEncoding, err)
	}
	var in runJSON
	switch head.SchemaVersion {
	case schemaVersion:
		if err := decodeWire(b, &in, "run"); err != nil {
			return runJSON{}, err
		}
	case 1:
		return fromV1(b)
	default:
		return runJSON{}, fmt.Errorf("%w: schemaVersion %d: this version of fleetkit reads 1 and %d", ErrUnsupportedVersion, head.SchemaVersion, schemaVersion)
	}
	return in, nil
}

// corruptf reports a persisted run that no sequence of events could produce.
func corruptf(field, format string, a ...any) error {
	return fmt.Errorf("%w: run: %s: %s", ErrInvalidEncoding, field, fmt.Sprintf(format, a...))
}

func decodeRun(in runJSON) (Run, error) {
	var spec Spec
	if err := json.Unmarshal(in.Spec, &spec); err != nil {
		return Run{}, fmt.Errorf("%w: run: spec: %w", ErrInvalidEncoding, err)
	}
	fresh, err := newRun(in.Name, spec, in.Members, in.Catalog)
	if err != nil {
		return Run{}, fmt.Errorf("%w: run inputs: %w", ErrInvalidEncoding, err)
	}
	p, s := fresh.p, fresh.s
	if len(p.members) != len(in.Members) {
		for _, m := range in.Members {
			if _, ok := p.byName[m.Name]; !ok {
				return Run{}, corruptf("members", "member %q is in no group of the strategy", m.Name)
			}
		}
	}
	if !slices.IsSortedFunc(in.Members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) }) {
		return Run{}, corruptf("members", "not sorted by name")
	}
	js := in.State
	switch {
	case len(js.Stages) != len(p.stages):
		return Run{}, corruptf("state.stages", "%d entries; the strategy has %d stages", len(js.Stages), len(p.stages))
	case len(js.Groups) != len(p.groups):
		return Run{}, corruptf("state.groups", "%d entries; the strategy has %d groups", len(js.Groups), len(p.groups))
	case len(js.Members) != len(p.members):
		return Run{}, corruptf("state.members", "%d entries; the run has %d members", len(js.Members), len(p.members))
	}
	switch js.Phase {
	case NotStarted, Running, Stopping, Stopped, Failed, Completed, Skipped:
	default:
		return Run{}, corruptf("state.phase", "%q is not a run phase", js.Phase)
	}
	s.clock, s.phase, s.start, s.end, s.wakes = js.Clock, js.Phase, js.StartTime, js.EndTime, js.Wakes
	s.started = js.Phase != NotStarted
	if js.Error != nil {
		if js.Error.Code == "" {
			return Run{}, corruptf("state.error.code", "required")
		}
		s.errCode, s.errMsg = js.Error.Code, js.Error.Message
		s.failing = true
	}

	s.stages = newStages(len(p.stages), s.gen)
	s.stage = len(p.stages)
	for i, sj := range js.Stages {
		f := fmt.Sprintf("state.stages[%d]", i)
		if sj.Name != p.stages[i].name {
			return Run{}, corruptf(f+".name", "%q; the strategy's stage %d is %q", sj.Name, i, p.stages[i].name)
		}
		ph := slices.Index(stagePhaseNames[:], sj.Phase)
		if ph < 0 {
			return Run{}, corruptf(f+".phase", "%q: want NotStarted, Groups, Waiting or Done", sj.Phase)
		}
		if ph != stageDone && s.stage == len(p.stages) {
			s.stage = i // the active stage is the first not done
		}
		*s.stages.get(i) = stageRec{phase: int8(ph), starved: sj.Starved, skipped: sj.Skipped, waitSkipped: sj.WaitSkipped, times: &times{start: sj.StartTime, end: sj.EndTime, waitEnd: sj.WaitEnd}}
	}

	upType := p.v.upType
	s.members = newFvec[memberRec](len(p.members), s.gen)
	s.groups = newFvec[groupRec](len(p.groups), s.gen)
	s.changes = nil
	recs := make([]*memberRec, len(p.members))
	for i, mj := range js.Members {
		f := "state.members[" + strconv.Itoa(i) + "]"
		orig := &p.members[i]
		if mj.Name != orig.Name {
			return Run{}, corruptf(f+".name", "%q; member %d of the run is %q", mj.Name, i, orig.Name)
		}
		data := orig
		if mj.Data != nil {
			if mj.Data.Name != orig.Name || mj.Data.Group != orig.Group {
				return Run{}, corruptf(f+".data", "name and group must stay %q and %q", orig.Name, orig.Group)
			}
			if errs := validateMember(f+".data", *mj.Data, upType); len(errs) > 0 {
				return Run{}, fmt.Errorf("%w: run: %w", ErrInvalidEncoding, errs[0])
			}
			d := cloneMember(*mj.Data)
			data = &d
		}
		ms, ok := memberStateOf(mj.State)
		if !ok {
			return Run{}, corruptf(f+".state", "%q is not a member state", mj.State)
		}
		m := s.members.get(i)
		*m = memberRec{data: data, ms: ms, waitCatalog: mj.WaitCatalog, removed: mj.Removed, attempt: mj.Attempt}
		m.setStart(mj.StartTime)
		m.setEnd(mj.EndTime)
		t := memberText{note: mj.Note, message: mj.Message}
		if mj.Error != nil {
			if mj.Error.Code == "" {
				return Run{}, corruptf(f+".error.code", "required")
			}
			t.errCode, t.errMsg = mj.Error.Code, mj.Error.Message
		}
		m.setText(t)
		if mj.Attempt < 0 {
			return Run{}, corruptf(f+".attempt", "%d is negative", mj.Attempt)
		}
		if mj.Pinned != nil {
			m.pinned = mj.Pinned
		}
		recs[i] = m
	}

	if len(js.Gates) != len(p.gates) {
		return Run{}, corruptf("state.gates", "%d entries; the strategy has %d gates", len(js.Gates), len(p.gates))
	}
	gates := make([]*gateRec, len(p.gates))
	for k, gj := range js.Gates {
		if gj.ID != p.gates[k].id {
			return Run{}, corruptf(fmt.Sprintf("state.gates[%d].gateId", k), "%q; the strategy's gate %d is %q", gj.ID, k, p.gates[k].id)
		}
		gates[k] = &gateRec{state: gj.State, start: gj.StartTime, end: gj.EndTime, startAt: gj.StartAt}
	}
	s.gates = newPvec(gates)

	keys := windowKeys{}
	for gi, gj := range js.Groups {
		f := fmt.Sprintf("state.groups[%d]", gi)
		if gj.Name != p.groups[gi].name {
			return Run{}, corruptf(f+".name", "%q; the strategy's group %d is %q", gj.Name, gi, p.groups[gi].name)
		}
		g := s.groups.get(gi)
		*g = groupRec{groupCold: &groupCold{start: gj.StartTime, end: gj.EndTime, userSkipped: gj.Skipped}} // its own: catalogWait is set below
		byKey := make(map[string]int32, len(gj.Windows))
		bks := make([]*bucketRec, 0, len(gj.Windows))
		for wi, wj := range gj.Windows {
			k := scheduleKey(wj.Window)
			if _, dup := byKey[k]; dup {
				return Run{}, corruptf(fmt.Sprintf("%s.windows[%d]", f, wi), "listed twice")
			}
			var comp *window.Compiled
			if wj.Window != nil {
				var err error
				if comp, err = wj.Window.Compile(); err != nil {
					return Run{}, corruptf(fmt.Sprintf("%s.windows[%d].window", f, wi), "%v", err)
				}
			}
			byKey[k] = int32(wi)
			bks = append(bks, &bucketRec{bucketKind: &bucketKind{key: k, sched: wj.Window, comp: comp}, reached: wj.Reached, opening: wj.Opening})
		}
		g.buckets = newBvec(bks, s.gen)
		for _, id := range p.groups[gi].members {
			m := recs[id]
			bi, ok := byKey[keys.of(windowFor(m.data, upType))]
			if !ok {
				return Run{}, corruptf(fmt.Sprintf("state.members[%d]", id), "%q: its maintenance window is not among group %q's windows", m.data.Name, gj.Name)
			}
			m.bucket = bi
			g.count(m.ms, 1)
			if m.ms == msRunning {
				s.inflight++
			}
			if m.waitCatalog {
				w := append(g.waiting(), id)
				g.catalogWait = &w
			}
		}
	}
	run := Run{p: p, s: s}
	for g := range p.groups {
		if st := int(p.groups[g].stage); run.groupsStarted(st) && !run.groupDone(int32(g)) {
			s.stages.get(st).openGroups++
		}
	}

	s.selection, s.unresolved = nil, nil
	consistent := p.v.selection == Consistent && upType != ControlPlaneOnly
	if !consistent && (len(js.Selection) > 0 || len(js.Unresolved) > 0) {
		return Run{}, corruptf("state.selection", "only a Consistent node image selection has one")
	}
	for i, v := range js.Selection {
		img, err := nodeimage.Parse(v)
		if err != nil {
			return Run{}, corruptf(fmt.Sprintf("state.selection[%d]", i), "%v", err)
		}
		if i > 0 && img.Family <= s.selection[i-1].Family {
			return Run{}, corruptf(fmt.Sprintf("state.selection[%d]", i), "families must be unique and sorted")
		}
		s.selection = append(s.selection, img)
	}
	for i, u := range js.Unresolved {
		id, ok := p.byName[u.Member]
		if !ok || (i > 0 && u.Member <= js.Unresolved[i-1].Member) {
			return Run{}, corruptf(fmt.Sprintf("state.unresolved[%d]", i), "member %q: not in the run, or not sorted and unique", u.Member)
		}
		if s.unresolved == nil {
			s.unresolved = map[int32]string{}
		}
		s.unresolved[id] = u.Reason
	}
	if err := run.check(); err != nil {
		return Run{}, err
	}
	return run, nil
}

// eligible: the member waits in its bucket's queue for its turn.
func (m *memberRec) eligible() bool {
	return !m.waitCatalog && (m.state() == NotStarted || m.state() == Pending)
}

// fromV1 reads schema version 1, the first release's dump of its memory
// layout, into version 2; decodeRun then checks it like any other.
func fromV1(b []byte) (runJSON, error) {
	var v1 struct {
		Name    string   `json:"name"`
		Spec    Spec     `json:"spec"`
		Members []Member `json:"members"`
		Catalog Catalog  `json:"catalog"`
		State   struct {
			Clock      time.Time         `json:"clock"`
			Phase      State             `json:"phase"`
			Failing    bool              `json:"failing"`
			Started    bool              `json:"started"`
			Start      time.Time         `json:"start"`
			End        time.Time         `json:"end"`
			ErrCode    string            `json:"errCode"`
			ErrMsg     string            `json:"errMsg"`
			Stage      int               `json:"stage"`
			Wakes      []time.Time       `json:"wakes"`
			Selection  []string          `json:"selection"`
			Unresolved map[string]string `json:"unresolved"`
			Stages     []struct {
				Phase       int       `json:"phase"`
				Starved     bool      `json:"starved"`
				Skipped     bool      `json:"skipped"`
				WaitSkipped bool      `json:"waitSkipped"`
				Start       time.Time `json:"start"`
				End         time.Time `json:"end"`
				WaitEnd     time.Time `json:"waitEnd"`
			} `json:"stages"`
			Groups []struct {
				UserSkipped bool      `json:"userSkipped"`
				Start       time.Time `json:"start"`
				End         time.Time `json:"end"`
				Buckets     []struct {
					Window  *window.Schedule `json:"window"`
					Base    []int32          `json:"base"`
					Cursor  int32            `json:"cursor"`
					Extra   []int32          `json:"extra"`
					Reached bool             `json:"reached"`
					Opening time.Time        `json:"opening"`
				} `json:"buckets"`
				CatalogWait []int32 `json:"catalogWait"`
			} `json:"groups"`
			Members []struct {
				Data        *Member        `json:"data"`
				Bucket      int32          `json:"bucket"`
				State       State          `json:"state"`
				WaitCatalog bool           `json:"waitCatalog"`
				Removed     bool           `json:"removed"`
				Attempt     int32          `json:"attempt"`
				Op          OpID           `json:"op"`
				Pinned      *UpgradeMember `json:"pinned"`
				Note        string         `json:"note"`
				Message     string         `json:"message"`
				Start       time.Time      `json:"start"`
				End         time.Time      `json:"end"`
				ErrCode     string         `json:"errCode"`
				ErrMsg      string         `json:"errMsg"`
			} `json:"members"`
		} `json:"state"`
	}
	if err := json.Unmarshal(b, &v1); err != nil {
		return runJSON{}, fmt.Errorf("%w: run (schema version 1): %v", ErrInvalidEncoding, err)
	}
	st := v1.State
	spec, err := json.Marshal(v1.Spec)
	if err != nil {
		return runJSON{}, fmt.Errorf("%w: run (schema version 1): spec: %v", ErrInvalidEncoding, err)
	}
	out := runJSON{SchemaVersion: schemaVersion, Name: v1.Name, Spec: spec, Members: v1.Members, Catalog: v1.Catalog}
	js := &out.State
	js.Clock, js.Phase, js.StartTime, js.EndTime, js.Wakes, js.Selection = st.Clock, st.Phase, st.Start, st.End, st.Wakes, st.Selection
	if st.ErrCode != "" {
		js.Error = &ErrorDetail{Code: st.ErrCode, Message: st.ErrMsg}
	}
	for name, why := range st.Unresolved {
		js.Unresolved = append(js.Unresolved, unresolvedJSON{name, why})
	}
	slices.SortFunc(js.Unresolved, func(a, b unresolvedJSON) int { return strings.Compare(a.Member, b.Member) })
	// Names come from the strategy: v1 did not store them, so take them by
	// position and let decodeRun match sizes.
	stageNames, groupNames := strategyNames(v1.Spec)
	for i, sj := range st.Stages {
		if sj.Phase < 0 || sj.Phase >= len(stagePhaseNames) || i >= len(stageNames) {
			return runJSON{}, corruptf(fmt.Sprintf("state.stages[%d]", i), "phase %d or position out of range (schema version 1)", sj.Phase)
		}
		js.Stages = append(js.Stages, stageJSON{stageNames[i], stagePhaseNames[sj.Phase], sj.Starved, sj.Skipped, sj.WaitSkipped, sj.Start, sj.End, sj.WaitEnd})
	}
	for i, gj := range st.Groups {
		if i >= len(groupNames) {
			return runJSON{}, corruptf(fmt.Sprintf("state.groups[%d]", i), "more groups than the strategy has (schema version 1)")
		}
		g := groupJSON{Name: groupNames[i], Skipped: gj.UserSkipped, StartTime: gj.Start, EndTime: gj.End, Windows: []windowJSON{}}
		for _, bk := range gj.Buckets {
			g.Windows = append(g.Windows, windowJSON{bk.Window, bk.Reached, bk.Opening})
		}
		js.Groups = append(js.Groups, g)
	}
	sorted := slices.Clone(v1.Members)
	slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	for i, mj := range st.Members {
		if i >= len(sorted) {
			return runJSON{}, corruptf(fmt.Sprintf("state.members[%d]", i), "more members than the run has (schema version 1)")
		}
		name := sorted[i].Name
		f := fmt.Sprintf("state.members[%d]", i)
		if mj.Attempt > 0 && mj.Op != opID(v1.Name, name, int(mj.Attempt)) {
			return runJSON{}, corruptf(f+".op", "%q is not member %q's attempt %d (schema version 1)", mj.Op, name, mj.Attempt)
		}
		m := memberJSON{Name: name, State: mj.State, Data: mj.Data, WaitCatalog: mj.WaitCatalog, Removed: mj.Removed, Attempt: mj.Attempt,
			Note: mj.Note, Message: mj.Message, StartTime: mj.Start, EndTime: mj.End}
		if mj.Pinned != nil {
			if mj.Pinned.Member != name || mj.Pinned.Op != "" {
				return runJSON{}, corruptf(f+".pinned", "names member %q, not %q (schema version 1)", mj.Pinned.Member, name)
			}
			m.Pinned = &pinnedInputs{mj.Pinned.KubernetesVersion, mj.Pinned.NodeImages}
		}
		if mj.ErrCode != "" {
			m.Error = &ErrorDetail{Code: mj.ErrCode, Message: mj.ErrMsg}
		}
		js.Members = append(js.Members, m)
	}
	return out, nil
}

// strategyNames lists the stage and group names of a spec in plan order.
func strategyNames(spec Spec) (stages, groups []string) {
	if spec.Strategy == nil {
		return []string{defaultStageName}, []string{defaultGroupName}
	}
	for _, st := range spec.Strategy.Stages {
		stages = append(stages, st.Name)
		for _, g := range st.Groups {
			groups = append(groups, g.Name)
		}
	}
	return stages, groups
}
