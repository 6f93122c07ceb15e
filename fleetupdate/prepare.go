package fleetupdate

// prepare: what one member needs, decided when it is reached.

import (
	"slices"
	"strconv"
	"strings"

	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

// prepare decides, at the moment a member is reached with its window open,
// whether to upgrade it, skip it, refuse it or wait for the catalog.
func (b *stepper) prepare(id int32, m *memberRec) verdict {
	if m.pinned != nil { // a retry: the same inputs as the first attempt (Azure/AKS#5733)
		return verdict{kind: vStart, note: m.tx().note}
	}
	return b.p.decide(b.s.catalog, b.s.selection, b.s.unresolved, id, m.data)
}

// decide is prepare for a member's first attempt: what the catalog, the
// Consistent selection and the member's data say to do with it. It reads
// nothing else, so the benchmarks' floor makes the same commands with it.
// Every member's start pays for it: it takes the versions it names from the
// compiled catalog, already formatted, and formats only what it explains.
func (p *plan) decide(cat *compiledCatalog, selection nodeimage.Selection, unresolved map[int32]string, id int32, d *Member) verdict {
	up := p.v.upType
	cmd := UpgradeMember{Member: d.Name, Type: up}
	var noteBuf [4]string
	notes := noteBuf[:0] // pools left alone
	cpNote := ""         // why the control plane needs nothing
	needK8s := false
	region := cat.regions[d.Region] // the zero region offers nothing

	if up != NodeImageOnly {
		cur, _ := kversion.Parse(d.KubernetesVersion)
		target := p.v.target
		ri := kversion.ResolveIndex(target, region.k8s)
		if ri >= 0 {
			target = region.k8s[ri]
		}
		behind := !kversion.NothingToDo(cur, target)
		if up == Full {
			for _, np := range d.NodePools {
				if np.KubernetesVersion == "" {
					continue // most pools follow the control plane: nothing to parse
				}
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
						return verdict{kind: vFail, note: "agent pool " + strconv.Quote(np.Name) + ": " + err.Error()}
					}
				}
			}
			if ri < 0 {
				return verdict{kind: vWait, code: CodeKubernetesVersionNotAvailable, note: "target Kubernetes version " + p.v.target.String() + " is not available in region " + strconv.Quote(d.Region)}
			}
			needK8s = true
			cmd.KubernetesVersion = region.k8sText[ri]
		} else if up == ControlPlaneOnly {
			return verdict{kind: vSkip, note: atOrAhead("control plane Kubernetes version ", cur, target)}
		} else {
			cpNote = atOrAhead("Kubernetes version ", cur, target)
			if ri >= 0 {
				cmd.KubernetesVersion = region.k8sText[ri]
			} else {
				cmd.KubernetesVersion = target.String()
			}
		}
	}

	if up != ControlPlaneOnly {
		if why, ok := unresolved[id]; ok { // only Consistent resolves ahead
			return verdict{kind: vSkip, note: why}
		}
		pools := d.NodePools
		if !slices.IsSortedFunc(pools, comparePoolNames) { // usually they are
			pools = slices.Clone(pools)
			slices.SortFunc(pools, comparePoolNames)
		}
		var upgrades [4]PoolImage // most members have few pools: one allocation below
		upgraded := upgrades[:0]
		for _, np := range pools {
			cur, err := nodeimage.Parse(np.NodeImageVersion)
			if err != nil {
				notes = append(notes, "agent pool "+strconv.Quote(np.Name)+" has no node image version")
				continue
			}
			latest := region.latest[cur.Family]
			var target nodeimage.Image
			switch p.v.selection {
			case Latest:
				// A region that offers no image of the family gives no target:
				// the pool is left alone, as under Custom.
				target = latest.img
			case Consistent:
				t, ok := selection.Lookup(cur.Family)
				if !ok {
					return verdict{kind: vSkip, note: "no consistent node image for agent pool " + strconv.Quote(np.Name) + " of family " + strconv.Quote(cur.Family)}
				}
				target = t
			case Custom:
				target, _ = p.v.custom.Lookup(cur.Family)
			}
			if target == latest.img && !target.IsZero() && cur.Version.Compare(target.Version) < 0 {
				// The usual case, without nodeimage.Decide's catalog search:
				// a pool behind its region's newest image (which the region
				// offers, of course) moves to it.
				upgraded = append(upgraded, PoolImage{Pool: np.Name, NodeImageVersion: latest.text})
				continue
			}
			pool := nodeimage.Pool{Member: d.Name, Name: np.Name, Region: d.Region, Image: cur}
			dec := nodeimage.Decide(cat.images, pool, target)
			switch dec.Action {
			case nodeimage.Upgrade:
				upgraded = append(upgraded, PoolImage{Pool: np.Name, NodeImageVersion: dec.Target.String()})
			case nodeimage.NotInRegion:
				return verdict{kind: vWait, code: CodeNodeImageVersionNotAvailable, note: dec.Message}
			default:
				notes = append(notes, dec.Message)
			}
		}
		if len(upgraded) > 0 {
			cmd.NodeImages = make([]PoolImage, len(upgraded))
			copy(cmd.NodeImages, upgraded)
		}
	}

	if !needK8s && len(cmd.NodeImages) == 0 {
		why := "nothing to upgrade"
		switch {
		case cpNote != "" && len(notes) > 0:
			why = "already at target: " + cpNote + "; " + strings.Join(notes, "; ")
		case cpNote != "":
			why = "already at target: " + cpNote
		case len(notes) > 0:
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

func comparePoolNames(a, b NodePool) int { return strings.Compare(a.Name, b.Name) }

// atOrAhead says, in one allocation, that cur needs nothing to reach target.
func atOrAhead(what string, cur, target kversion.Version) string {
	var buf [128]byte
	b := append(buf[:0], what...)
	b = cur.Append(b)
	b = append(b, " is already at or ahead of target "...)
	return string(target.Append(b))
}
