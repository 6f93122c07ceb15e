package fleetupdate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
	"github.com/fleetkit/fleetkit/planner"
)

// bucketKey ranks bucket bi of group g at the step's time. The bucket keeps
// its window's current interval, so a pick costs a few comparisons per
// window instead of a Next call, however many windows a group holds.
func (b *stepper) bucketKey(g int32, bi int) planner.Key {
	bk := b.group(g).buckets[bi]
	if bk.sched == nil {
		return planner.Key{Priority: planner.NoWindow}
	}
	if !bk.ivSeen || bk.ivOK && !bk.iv.Unbounded() && !b.s.clock.Before(bk.iv.End) {
		iv, ok := bk.sched.Next(b.s.clock)
		bk = b.mutBucket(g, bi)
		bk.iv, bk.ivOK, bk.ivSeen = iv, ok, true
	}
	p, opening := planner.ClassifyInterval(bk.iv, bk.ivOK, b.s.clock)
	return planner.Key{Priority: p, Opening: opening}
}

// eligible: the member waits in bucket bi for its turn.
func (b *stepper) eligible(id int32, bi int) bool {
	m := b.member(id)
	return int(m.bucket) == bi && !m.waitCatalog && (m.state == NotStarted || m.state == Pending)
}

// head returns bucket bi's next member, persisting any advance past members
// that were taken, skipped or moved since (lazy deletion keeps picks O(1)
// amortised per member).
func (b *stepper) head(g int32, bi int) (int32, bool) {
	bk := b.group(g).buckets[bi]
	c, x := bk.cursor, bk.xhead
	for int(c) < len(bk.base) && !b.eligible(bk.base[c], bi) {
		c++
	}
	for int(x) < len(bk.extra) && !b.eligible(bk.extra[x], bi) {
		x++
	}
	if c != bk.cursor || x != bk.xhead {
		gb := b.mutBucket(g, bi)
		gb.cursor, gb.xhead = c, x
		bk = gb
	}
	best := int32(-1)
	if int(c) < len(bk.base) {
		best = bk.base[c]
	}
	if int(x) < len(bk.extra) && (best < 0 || bk.extra[x] < best) {
		best = bk.extra[x]
	}
	return best, best >= 0
}

type candidate struct {
	bucket int
	id     int32
	key    planner.Key
}

// pick takes the group's next member in Fleet's order and decides what to do
// with it. Buckets ranked before it whose window is closed are reached: their
// members go Pending, and the run asks to wake when the window opens. It
// returns false when no member can start now.
func (b *stepper) pick(g int32) bool {
	var buf [16]candidate
	cands := buf[:0]
	for bi := range b.group(g).buckets {
		id, ok := b.head(g, bi)
		if !ok {
			continue
		}
		k := b.bucketKey(g, bi)
		k.Name = b.p.members[id].Name
		if k.Priority == planner.OpenNow && b.group(g).buckets[bi].reached {
			b.mutBucket(g, bi).reached = false // open again: its members are no longer held
		}
		cands = append(cands, candidate{bi, id, k})
	}
	// A window gates only the start: open now, or no window at all.
	startable := func(c candidate) bool {
		return c.key.Priority == planner.OpenNow || c.key.Priority == planner.NoWindow
	}
	best := -1
	for i, c := range cands {
		if startable(c) && (best < 0 || c.key.Compare(cands[best].key) < 0) {
			best = i
		}
	}
	for _, c := range cands {
		if !startable(c) && (best < 0 || c.key.Compare(cands[best].key) < 0) {
			b.reach(g, c.bucket, c.key.Opening)
		}
	}
	if best < 0 {
		return false
	}
	b.take(g, cands[best].bucket, cands[best].id)
	return true
}

// reach marks a bucket whose window is closed as reached.
func (b *stepper) reach(g int32, bi int, opening time.Time) {
	bk := b.group(g).buckets[bi]
	if !bk.reached || !bk.opening.Equal(opening) {
		gb := b.mutBucket(g, bi)
		gb.reached, gb.opening = true, opening
	}
	if !opening.IsZero() {
		b.wakeAt(opening)
	}
}

// take removes id from the front of its bucket and acts on it.
func (b *stepper) take(g int32, bi int, id int32) {
	gb := b.mutBucket(g, bi)
	if int(gb.cursor) < len(gb.base) && gb.base[gb.cursor] == id {
		gb.cursor++
	} else {
		gb.xhead++
	}
	b.act(g, id)
}

// Verdicts of prepare.
const (
	vStart = iota
	vSkip
	vFail
	vWait
)

type verdict struct {
	kind int
	cmd  UpgradeMember
	note string // vStart: pools left alone; vSkip, vFail, vWait: why
	code string // vWait: the error code status shows
}

func (b *stepper) act(g int32, id int32) {
	rec := b.member(id)
	v := b.prepare(id, rec)
	switch v.kind {
	case vStart:
		m := b.setState(id, Running)
		m.attempt++
		m.op = opID(b.p.name, m.data.Name, int(m.attempt))
		if m.pinned == nil {
			c := v.cmd
			m.pinned = &c
		}
		m.note = v.note
		m.message = ""
		m.errCode, m.errMsg = "", ""
		m.waitCatalog = false
		m.start = b.s.clock
		m.end = time.Time{}
		b.emit(m.command())
	case vSkip:
		m := b.setState(id, Skipped)
		m.message = v.note
		m.start, m.end = b.s.clock, b.s.clock
	case vFail:
		m := b.setState(id, Failed)
		m.errCode, m.errMsg = codeUpgradeNotAllowed, v.note
		m.start, m.end = b.s.clock, b.s.clock
		b.memberFailed(id)
	case vWait:
		b.waitForCatalog(g, id, v.code, v.note)
	}
}

// waitForCatalog parks a member Pending until the catalog or the member
// changes. Status shows the reason as the member's message and, as in
// Azure's monitoring example, as its error {code, message}.
func (b *stepper) waitForCatalog(g int32, id int32, code, msg string) {
	m := b.setState(id, Pending)
	m.waitCatalog = true
	m.message = msg
	m.errCode, m.errMsg = code, msg
	gr := b.mutGroup(g)
	gr.catalogWait = append(slices.Clip(gr.catalogWait), id)
}

// requeue makes a member eligible again in its bucket.
func (b *stepper) requeue(g int32, id int32) {
	bk := b.mutBucket(g, int(b.member(id).bucket))
	rest := bk.extra[bk.xhead:]
	i, found := slices.BinarySearch(rest, id)
	if found {
		return
	}
	bk.extra = slices.Insert(slices.Clone(rest), i, id)
	bk.xhead = 0
}

// prepare decides, at the moment a member is reached with its window open,
// whether to upgrade it, skip it, refuse it or wait for the catalog.
func (b *stepper) prepare(id int32, m *memberRec) verdict {
	if m.pinned != nil { // a retry: the same inputs as the first attempt (Azure/AKS#5733)
		return verdict{kind: vStart, note: m.note}
	}
	d := m.data
	up := b.p.v.upType
	cmd := UpgradeMember{Member: d.Name, Type: up}
	var notes []string // pools left alone
	cpNote := ""       // why the control plane needs nothing
	needK8s := false
	cat := b.s.catalog

	if up != NodeImageOnly {
		cur, _ := kversion.Parse(d.KubernetesVersion)
		target := b.p.v.target
		resolved, rerr := kversion.Resolve(target, cat.k8s[d.Region])
		if rerr == nil {
			target = resolved
		}
		behind := !kversion.NothingToDo(cur, target)
		if up == Full {
			for _, np := range d.NodePools {
				if pv, err := kversion.Parse(np.KubernetesVersion); err == nil && !kversion.NothingToDo(pv, target) {
					behind = true
				}
			}
		}
		if behind {
			if err := kversion.CheckMinorSkip(cur, target, d.LongTermSupport); err != nil {
				return verdict{kind: vFail, note: err.Error()}
			}
			if up == ControlPlaneOnly {
				for _, np := range d.NodePools {
					pv := cur
					if p, err := kversion.Parse(np.KubernetesVersion); err == nil {
						pv = p
					}
					if err := kversion.CheckPoolSkew(target, pv); err != nil {
						return verdict{kind: vFail, note: fmt.Sprintf("agent pool %q: %v", np.Name, err)}
					}
				}
			}
			if rerr != nil {
				return verdict{kind: vWait, code: CodeKubernetesVersionNotAvailable, note: fmt.Sprintf("target Kubernetes version %s is not available in region %q", b.p.v.target, d.Region)}
			}
			needK8s = true
			cmd.KubernetesVersion = target.String()
		} else if up == ControlPlaneOnly {
			return verdict{kind: vSkip, note: fmt.Sprintf("control plane Kubernetes version %s is already at or ahead of target %s", cur, target)}
		} else {
			cpNote = fmt.Sprintf("Kubernetes version %s is already at or ahead of target %s", cur, target)
			cmd.KubernetesVersion = target.String()
		}
	}

	if up != ControlPlaneOnly {
		if why, ok := b.s.unresolved[id]; ok { // only Consistent resolves ahead
			return verdict{kind: vSkip, note: why}
		}
		pools := slices.Clone(d.NodePools)
		slices.SortFunc(pools, func(a, b NodePool) int { return strings.Compare(a.Name, b.Name) })
		for _, np := range pools {
			cur, err := nodeimage.Parse(np.NodeImageVersion)
			if err != nil {
				notes = append(notes, fmt.Sprintf("agent pool %q has no node image version", np.Name))
				continue
			}
			pool := nodeimage.Pool{Member: d.Name, Name: np.Name, Region: d.Region, Image: cur}
			var target nodeimage.Image
			switch b.p.v.selection {
			case Latest:
				// A region that offers no image of the family gives no target:
				// the pool is left alone, as under Custom.
				target, _ = nodeimage.ResolveLatest(cat.images, d.Region, cur.Family)
			case Consistent:
				t, ok := b.s.selection.Lookup(cur.Family)
				if !ok {
					return verdict{kind: vSkip, note: fmt.Sprintf("no consistent node image for agent pool %q of family %q", np.Name, cur.Family)}
				}
				target = t
			case Custom:
				target, _ = b.p.v.custom.Lookup(cur.Family)
			}
			dec := nodeimage.Decide(cat.images, pool, target)
			switch dec.Action {
			case nodeimage.Upgrade:
				cmd.NodeImages = append(cmd.NodeImages, PoolImage{Pool: np.Name, NodeImageVersion: dec.Target.String()})
			case nodeimage.NotInRegion:
				return verdict{kind: vWait, code: CodeNodeImageVersionNotAvailable, note: dec.Message}
			default:
				notes = append(notes, dec.Message)
			}
		}
	}

	if !needK8s && len(cmd.NodeImages) == 0 {
		why := "nothing to upgrade"
		if cpNote != "" {
			notes = append([]string{cpNote}, notes...)
		}
		if len(notes) > 0 {
			why = "already at target: " + strings.Join(notes, "; ")
		}
		return verdict{kind: vSkip, note: why}
	}
	note := ""
	if len(notes) > 0 {
		note = "Skipped upgrade of following agent pool(s): " + strings.Join(notes, "; ")
	}
	return verdict{kind: vStart, cmd: cmd, note: note}
}

func (b *stepper) skip(targets []SkipTarget) error {
	if len(targets) == 0 {
		return fmt.Errorf("%w: no targets", ErrUnknownTarget)
	}
	var errs []error
	for _, t := range targets {
		if err := b.checkTarget(t); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, t := range targets {
		switch t.Type {
		case TargetMember:
			b.skipMember(b.p.byName[t.Name], "skipped by user")
		case TargetGroup:
			b.skipGroup(b.p.groupIndex(t.Name), fmt.Sprintf("skipped by user: group %q", t.Name))
		case TargetStage:
			i := b.p.stageIndex(t.Name)
			st := b.stage(i)
			st.skipped, st.waitSkipped = true, true
			b.skipGates(b.p.stages[i].before)
			for _, g := range b.p.stages[i].groups {
				b.skipGroup(g, fmt.Sprintf("skipped by user: stage %q", t.Name))
			}
			b.skipGates(b.p.stages[i].after)
		case TargetAfterStageWait:
			b.stage(b.p.stageIndex(t.Name)).waitSkipped = true
		}
	}
	if b.s.phase == Running {
		b.advance(-1)
	}
	return nil
}

func (b *stepper) checkTarget(t SkipTarget) error {
	switch t.Type {
	case TargetMember:
		id, ok := b.p.byName[t.Name]
		if !ok {
			return fmt.Errorf("%w: member %q is not in this run", ErrUnknownTarget, t.Name)
		}
		switch m := b.member(id); m.state {
		case Running:
			return fmt.Errorf("%w: member %q is being upgraded (operation %s); it cannot be skipped", ErrInvalidTransition, t.Name, m.op)
		case Completed:
			return fmt.Errorf("%w: member %q has already completed", ErrInvalidTransition, t.Name)
		}
	case TargetGroup:
		if b.p.groupIndex(t.Name) < 0 {
			return fmt.Errorf("%w: group %q is not in this run's strategy", ErrUnknownTarget, t.Name)
		}
	case TargetStage:
		if b.p.stageIndex(t.Name) < 0 {
			return fmt.Errorf("%w: stage %q is not in this run's strategy", ErrUnknownTarget, t.Name)
		}
	case TargetAfterStageWait:
		i := b.p.stageIndex(t.Name)
		if i < 0 {
			return fmt.Errorf("%w: stage %q is not in this run's strategy", ErrUnknownTarget, t.Name)
		}
		if b.p.stages[i].wait == 0 {
			return fmt.Errorf("%w: stage %q has no after-stage wait", ErrUnknownTarget, t.Name)
		}
	default:
		return fmt.Errorf("%w: target type %q: must be Member, Group, Stage or AfterStageWait", ErrUnknownTarget, t.Type)
	}
	return nil
}

// skipMember skips a member that has not started or has failed.
func (b *stepper) skipMember(id int32, why string) {
	switch b.member(id).state {
	case NotStarted, Pending, Failed:
		m := b.setState(id, Skipped)
		m.waitCatalog = false
		m.message = why
		m.errCode, m.errMsg = "", ""
		if m.start.IsZero() {
			m.start = b.s.clock
		}
		m.end = b.s.clock
	}
}

func (b *stepper) skipGroup(g int32, why string) {
	b.mutGroup(g).userSkipped = true
	b.skipGates(b.p.groups[g].before)
	b.skipGates(b.p.groups[g].after)
	for _, id := range b.p.groups[g].members {
		b.skipMember(id, why)
	}
}

func (p *plan) groupIndex(name string) int32 {
	for i, g := range p.groups {
		if g.name == name {
			return int32(i)
		}
	}
	return -1
}

func (p *plan) stageIndex(name string) int {
	for i, s := range p.stages {
		if s.name == name {
			return i
		}
	}
	return -1
}

// memberChanged updates a member's data. Membership is fixed at New: a
// member that is not in the run is ignored, and a group change is not
// followed.
func (b *stepper) memberChanged(nm Member, removed bool) error {
	id, ok := b.p.byName[nm.Name]
	if !ok {
		return nil
	}
	g := b.p.groupOf[id]
	if removed {
		b.mutMember(id).removed = true
		b.skipMember(id, "member left the fleet")
		if b.s.phase == Running {
			b.advance(g)
		}
		return nil
	}
	if errs := validateMember("member", nm, b.p.v.upType); len(errs) > 0 {
		return errors.Join(errs...)
	}
	m := b.mutMember(id)
	nm.Group = m.data.Group
	m.data = &nm
	// The bucket follows the window whatever the state, so a later retry
	// queues the member behind the right window.
	w := windowFor(&nm, b.p.v.upType)
	key := scheduleKey(w)
	waiting := m.state == NotStarted || m.state == Pending
	requeue := waiting && m.waitCatalog
	if b.group(g).buckets[m.bucket].key != key {
		bks := b.mutBuckets(g)
		nb := slices.IndexFunc(bks, func(bk *bucketRec) bool { return bk.key == key })
		if nb < 0 {
			nb = len(bks)
			b.group(g).buckets = append(bks, &bucketRec{gen: b.gen, key: key, sched: w})
		}
		m.bucket = int32(nb)
		requeue = waiting
	}
	if requeue {
		m.waitCatalog = false
		b.requeue(g, id)
	}
	if b.s.phase == Running {
		b.advance(g)
	}
	return nil
}

func (b *stepper) catalogChanged(c Catalog) error {
	cc, err := compileCatalog(c)
	if err != nil {
		return err
	}
	b.s.catalog = &cc
	if !b.s.started {
		b.s.resolveConsistent(b.p)
	}
	if b.s.stage < len(b.p.stages) {
		for _, g := range b.p.stages[b.s.stage].groups {
			if len(b.group(g).catalogWait) == 0 {
				continue
			}
			gr := b.mutGroup(g)
			wait := gr.catalogWait
			gr.catalogWait = nil
			for _, id := range wait {
				if m := b.member(id); m.waitCatalog {
					b.mutMember(id).waitCatalog = false
					b.requeue(g, id)
				}
			}
		}
	}
	if b.s.phase == Running {
		b.advance(-1)
	}
	return nil
}
