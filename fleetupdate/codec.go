package fleetupdate

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/nodeimage"
	"github.com/fleetkit/fleetkit/window"
)

// The JSON form of a Run: the inputs of New, then the state. Counters and
// the in-flight set are derived again on decode rather than trusted.
type runJSON struct {
	SchemaVersion int       `json:"schemaVersion"`
	Name          string    `json:"name"`
	Spec          Spec      `json:"spec"`
	Members       []Member  `json:"members"` // as given to New, run members only, sorted by name
	Catalog       Catalog   `json:"catalog"` // the current catalog
	State         stateJSON `json:"state"`
}

type stateJSON struct {
	Clock      time.Time         `json:"clock"`
	Phase      State             `json:"phase"`
	Failing    bool              `json:"failing,omitempty"`
	Started    bool              `json:"started,omitempty"`
	Start      time.Time         `json:"start,omitzero"`
	End        time.Time         `json:"end,omitzero"`
	ErrCode    string            `json:"errCode,omitempty"`
	ErrMsg     string            `json:"errMsg,omitempty"`
	Stage      int               `json:"stage"`
	Stages     []stageJSON       `json:"stages"`
	Groups     []groupJSON       `json:"groups"`
	Members    []memberJSON      `json:"members"`
	Wakes      []time.Time       `json:"wakes,omitempty"`
	Selection  []string          `json:"selection,omitempty"`
	Unresolved map[string]string `json:"unresolved,omitempty"` // member name → reason
}

type stageJSON struct {
	Phase       int       `json:"phase"`
	Starved     bool      `json:"starved,omitempty"`
	Skipped     bool      `json:"skipped,omitempty"`
	WaitSkipped bool      `json:"waitSkipped,omitempty"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	WaitEnd     time.Time `json:"waitEnd,omitzero"`
}

type groupJSON struct {
	UserSkipped bool         `json:"userSkipped,omitempty"`
	Start       time.Time    `json:"start,omitzero"`
	End         time.Time    `json:"end,omitzero"`
	Buckets     []bucketJSON `json:"buckets"`
	CatalogWait []int32      `json:"catalogWait,omitempty"`
}

type bucketJSON struct {
	Window  *window.Schedule `json:"window,omitempty"`
	Base    []int32          `json:"base"`
	Cursor  int32            `json:"cursor"`
	Extra   []int32          `json:"extra,omitempty"`
	Reached bool             `json:"reached,omitempty"`
	Opening time.Time        `json:"opening,omitzero"`
}

type memberJSON struct {
	Data        *Member        `json:"data,omitempty"` // only when changed since New
	Bucket      int32          `json:"bucket"`
	State       State          `json:"state"`
	WaitCatalog bool           `json:"waitCatalog,omitempty"`
	Removed     bool           `json:"removed,omitempty"`
	Attempt     int32          `json:"attempt,omitempty"`
	Op          OpID           `json:"op,omitempty"`
	Pinned      *UpgradeMember `json:"pinned,omitempty"`
	Note        string         `json:"note,omitempty"`
	Message     string         `json:"message,omitempty"`
	Start       time.Time      `json:"start,omitzero"`
	End         time.Time      `json:"end,omitzero"`
	ErrCode     string         `json:"errCode,omitempty"`
	ErrMsg      string         `json:"errMsg,omitempty"`
}

// MarshalJSON encodes the run with a schema version; UnmarshalJSON of the
// result gives a run that behaves identically.
func (r Run) MarshalJSON() ([]byte, error) {
	if r.p == nil || r.s == nil {
		return nil, fmt.Errorf("%w: cannot encode a run not made by New", ErrInvalidTransition)
	}
	s := r.s
	out := runJSON{SchemaVersion: schemaVersion, Name: r.p.name, Spec: r.p.spec, Members: r.p.members, Catalog: s.catalog.src}
	if out.Members == nil {
		out.Members = []Member{}
	}
	st := &out.State
	*st = stateJSON{Clock: s.clock, Phase: s.phase, Failing: s.failing, Started: s.started, Start: s.start, End: s.end,
		ErrCode: s.errCode, ErrMsg: s.errMsg, Stage: s.stage, Wakes: s.wakes}
	for _, sr := range s.stages {
		st.Stages = append(st.Stages, stageJSON{sr.phase, sr.starved, sr.skipped, sr.waitSkipped, sr.start, sr.end, sr.waitEnd})
	}
	s.groups.each(func(_ int, g *groupRec) {
		gj := groupJSON{UserSkipped: g.userSkipped, Start: g.start, End: g.end, CatalogWait: g.catalogWait}
		for _, bk := range g.buckets {
			gj.Buckets = append(gj.Buckets, bucketJSON{bk.sched, bk.base, bk.cursor, bk.extra[bk.xhead:], bk.reached, bk.opening})
		}
		st.Groups = append(st.Groups, gj)
	})
	s.members.each(func(i int, m *memberRec) {
		mj := memberJSON{Bucket: m.bucket, State: m.state, WaitCatalog: m.waitCatalog, Removed: m.removed, Attempt: m.attempt,
			Op: m.op, Pinned: m.pinned, Note: m.note, Message: m.message, Start: m.start, End: m.end, ErrCode: m.errCode, ErrMsg: m.errMsg}
		if m.data != &r.p.members[i] {
			mj.Data = m.data
		}
		st.Members = append(st.Members, mj)
	})
	for _, img := range s.selection {
		st.Selection = append(st.Selection, img.String())
	}
	for id, why := range s.unresolved {
		if st.Unresolved == nil {
			st.Unresolved = map[string]string{}
		}
		st.Unresolved[r.p.members[id].Name] = why
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes a run written by MarshalJSON. It rejects schema
// versions it does not know and encodings that do not fit their plan.
func (r *Run) UnmarshalJSON(b []byte) error {
	var in runJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("%w: run: %v", ErrInvalidSpec, err)
	}
	if in.SchemaVersion != schemaVersion {
		return fmt.Errorf("%w: schemaVersion %d (this version reads %d)", ErrUnsupportedVersion, in.SchemaVersion, schemaVersion)
	}
	fresh, err := New(in.Name, in.Spec, in.Members, in.Catalog)
	if err != nil {
		return err
	}
	p := fresh.p
	if len(p.members) != len(in.Members) {
		return fmt.Errorf("%w: run members are not the run's own", ErrInvalidSpec)
	}
	js := in.State
	corrupt := func(what string) error { return fmt.Errorf("%w: corrupt run encoding: %s", ErrInvalidSpec, what) }
	if len(js.Stages) != len(p.stages) || len(js.Groups) != len(p.groups) || len(js.Members) != len(p.members) || js.Stage < 0 || js.Stage > len(p.stages) {
		return corrupt("sizes do not match the plan")
	}
	s := fresh.s
	s.clock, s.phase, s.failing, s.started, s.start, s.end = js.Clock, js.Phase, js.Failing, js.Started, js.Start, js.End
	s.errCode, s.errMsg, s.stage, s.wakes = js.ErrCode, js.ErrMsg, js.Stage, js.Wakes
	s.stages = make([]stageRec, len(p.stages))
	for i, sj := range js.Stages {
		s.stages[i] = stageRec{phase: sj.Phase, starved: sj.Starved, skipped: sj.Skipped, waitSkipped: sj.WaitSkipped, start: sj.Start, end: sj.End, waitEnd: sj.WaitEnd}
	}
	recs := make([]*memberRec, len(p.members))
	for i, mj := range js.Members {
		data := &p.members[i]
		if mj.Data != nil {
			if mj.Data.Name != data.Name {
				return corrupt("member data out of order")
			}
			data = mj.Data
		}
		recs[i] = &memberRec{data: data, bucket: mj.Bucket, state: mj.State, waitCatalog: mj.WaitCatalog, removed: mj.Removed, attempt: mj.Attempt,
			op: mj.Op, pinned: mj.Pinned, note: mj.Note, message: mj.Message, start: mj.Start, end: mj.End, errCode: mj.ErrCode, errMsg: mj.ErrMsg}
		if mj.State == Running {
			if mj.Pinned == nil {
				return corrupt("running member without inputs")
			}
			s.inflight = append(s.inflight, int32(i))
		}
	}
	inRange := func(ids []int32) bool {
		for _, id := range ids {
			if id < 0 || int(id) >= len(p.members) {
				return false
			}
		}
		return true
	}
	groups := make([]*groupRec, len(p.groups))
	for gi, gj := range js.Groups {
		g := &groupRec{userSkipped: gj.UserSkipped, start: gj.Start, end: gj.End, catalogWait: gj.CatalogWait}
		if !inRange(gj.CatalogWait) {
			return corrupt("member id out of range")
		}
		for _, bj := range gj.Buckets {
			if !inRange(bj.Base) || !inRange(bj.Extra) || bj.Cursor < 0 || int(bj.Cursor) > len(bj.Base) {
				return corrupt("bucket out of range")
			}
			g.buckets = append(g.buckets, &bucketRec{key: scheduleKey(bj.Window), sched: bj.Window, base: bj.Base, cursor: bj.Cursor, extra: bj.Extra, reached: bj.Reached, opening: bj.Opening})
		}
		for _, id := range p.groups[gi].members {
			m := recs[id]
			if m.bucket < 0 || int(m.bucket) >= len(g.buckets) {
				return corrupt("member bucket out of range")
			}
			switch m.state {
			case Running:
				g.running++
				s.stages[p.groups[gi].stage].running++
			case Completed:
				g.completed++
			case Skipped:
				g.skipped++
			case Failed:
				g.failed++
			case Pending, NotStarted:
			default:
				return corrupt("member state " + string(m.state))
			}
		}
		if s.stages[p.groups[gi].stage].phase != stageNotStarted && g.unfinished(len(p.groups[gi].members)) > 0 {
			s.stages[p.groups[gi].stage].openGroups++
		}
		groups[gi] = g
	}
	s.members = newPvec(recs)
	s.groups = newPvec(groups)
	s.selection = nil
	for _, v := range js.Selection {
		img, err := nodeimage.Parse(v)
		if err != nil {
			return corrupt(err.Error())
		}
		s.selection = append(s.selection, img)
	}
	s.unresolved = nil
	for name, why := range js.Unresolved {
		id, ok := p.byName[name]
		if !ok {
			return corrupt("unresolved member " + name)
		}
		if s.unresolved == nil {
			s.unresolved = map[int32]string{}
		}
		s.unresolved[id] = why
	}
	*r = Run{p: p, s: s}
	return nil
}
