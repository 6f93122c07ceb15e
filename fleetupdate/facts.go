package fleetupdate

// Facts that change: a member's data or presence, and the catalog.

import (
	"errors"

	"github.com/fleetkit/fleetkit/window"
)

// memberChanged updates a member's data. Membership is fixed at New: a
// member that is not in the run is ignored, and changes to its group or
// labels are not followed.
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
	nm = cloneMember(nm)
	nm.Group = m.data.Group
	m.data = &nm
	// The bucket follows the window whatever the state, so a later retry
	// queues the member behind the right window.
	w := windowFor(&nm, b.p.v.upType)
	key := scheduleKey(w)
	waiting := m.state() == NotStarted || m.state() == Pending
	requeue := waiting && m.waitCatalog
	if b.group(g).buckets.get(int(m.bucket)).key != key {
		nb := b.bucketOf(g, key, w)
		m = b.mutMember(id)
		m.bucket = nb
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

// bucketOf returns the group's bucket for the window with key, adding one
// if the group has none yet.
func (b *stepper) bucketOf(g int32, key string, w *window.Schedule) int32 {
	bks := b.group(g).buckets
	for bi := range bks.n {
		if bks.get(bi).key == key {
			return int32(bi)
		}
	}
	ix := b.ownIndex(g)
	gr := b.mutGroup(g)
	rec := &bucketRec{gen: b.gen, bucketKind: &bucketKind{key: key, sched: w, comp: compileWindow(w)}}
	b.buckets(g, gr).push(rec)
	if ix != nil {
		ix.addBucket(rec)
	}
	return int32(gr.buckets.n - 1)
}

func (b *stepper) catalogChanged(c Catalog) error {
	cc, err := compileCatalog(c)
	if err != nil {
		return err
	}
	b.cold().catalog = &cc
	if !b.s.started {
		b.s.resolveConsistent(b.p)
	}
	if b.s.stage < len(b.p.stages) {
		for _, g := range b.p.stages[b.s.stage].groups {
			if len(b.group(g).waiting()) == 0 {
				continue
			}
			gr := b.mutGroup(g)
			wait := gr.waiting()
			b.setGroupCold(gr, func(c *groupCold) { c.catalogWait = nil })
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
