package autoupgrade

import (
	"fmt"
	"strings"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

// outsideWindow leaves m out if its Kubernetes minor is outside AKS's
// support window and reports whether it did. Fleet concepts doc: "Auto-upgrade
// requires the cluster's Kubernetes version to be within the AKS support window".
func (e *evaluator) outsideWindow(m Member) bool {
	cur, _ := kversion.Parse(m.KubernetesVersion)
	if e.f.inWindow(minorOf(cur), m.LongTermSupport) {
		return false
	}
	hint := ""
	if e.f.lts[minorOf(cur)] {
		hint = " or put the cluster on AKS's long-term support plan"
	}
	e.leave(m.Name, "Kubernetes %s is outside AKS's support window (%s): auto-upgrade only manages supported clusters; upgrade it to %d.%d with an update run%s",
		OutsideSupportWindow, cur, e.f.window(), e.f.newest.major, e.f.newest.minor-2, hint)
	return true
}

// heldBack leaves m out if an unfinished run holds it and reports whether it did.
func (e *evaluator) heldBack(m Member) bool {
	run, ok := e.held[m.Name]
	if ok {
		e.leave(m.Name, "run %s has not finished with it; it is included again once that run is done", InRun, run)
	}
	return ok
}

// kubernetes resolves a Kubernetes channel and returns the members to
// upgrade, leaving the others out with why.
func (e *evaluator) kubernetes() []Member {
	if !e.f.hasGA {
		e.out.Message = "AKS offers no GA Kubernetes version in any region"
		return nil
	}
	t, ok, why := e.f.resolveKubernetes(e.p)
	if ok {
		e.target = t
		e.out.Target.KubernetesVersion = t.String()
	} else {
		e.out.Message = why
	}
	behind := func(m Member) bool {
		cur, _ := kversion.Parse(m.KubernetesVersion)
		return ok && !kversion.NothingToDo(cur, t)
	}
	for _, m := range e.notInStrategy {
		if behind(m) {
			e.leave(m.Name, "its update group %q is in no stage of the profile's strategy; add the group to the strategy", NotInStrategy, m.Group)
		}
	}
	chained := e.p.ChainNodeImageUpgrade
	consistent := e.p.NodeImageSelection != nil && e.p.NodeImageSelection.Type == fleetupdate.Consistent
	var inc []Member
	for _, m := range e.inScope {
		if e.outsideWindow(m) || !behind(m) {
			continue
		}
		cur, _ := kversion.Parse(m.KubernetesVersion)
		// Fleet concepts doc, "Minor version skipping behavior": auto-upgrade doesn't move
		// clusters across more than one minor version (for example, 1.28 to 1.30).
		if kversion.CheckMinorSkip(cur, t, false) != nil {
			e.leave(m.Name, "Kubernetes %s is more than one minor version behind %s and auto-upgrade moves one minor at a time; upgrade it to %d.%d with an update run first",
				MinorVersionSkip, cur, t, t.Major, t.Minor-1)
			continue
		}
		if chained && e.poolSkew(m, cur, t) {
			continue
		}
		if consistent && e.familyMissing(m) {
			continue
		}
		if e.heldBack(m) {
			continue
		}
		inc = append(inc, m)
	}
	return inc
}

// poolSkew leaves m out if a ControlPlaneOnly upgrade to t would leave one of
// its node pools too far behind (AKS supported-kubernetes-versions.md: pools
// may trail the control plane by up to three minors from 1.28, two before).
func (e *evaluator) poolSkew(m Member, cur, t kversion.Version) bool {
	for _, np := range m.NodePools {
		pv := cur
		if np.KubernetesVersion != "" {
			pv, _ = kversion.Parse(np.KubernetesVersion)
		}
		if err := kversion.CheckPoolSkew(t, pv); err != nil {
			e.leave(m.Name, "agent pool %q: %v; upgrade its node pools first (a Full update run)", NodePoolSkew, np.Name, err)
			return true
		}
	}
	return false
}

// familyMissing leaves m out if its region offers no image of one of its
// pools' families: a Consistent run would skip the member (Fleet concepts
// doc, "Skipped"), every time.
func (e *evaluator) familyMissing(m Member) bool {
	for _, np := range m.NodePools {
		img, err := nodeimage.Parse(np.NodeImageVersion)
		if err != nil {
			continue
		}
		if _, ok := nodeimage.ResolveLatest(e.c.images, m.Region, img.Family); !ok {
			e.leave(m.Name, "agent pool %q: region %q offers no %s node image, so a Consistent run would skip the member; change the pool's OS SKU or use Latest",
				NoConsistentNodeImage, np.Name, m.Region, img.Family)
			return true
		}
	}
	return false
}

// relevant reports whether the channel upgrades pools of family.
func (e *evaluator) relevant(family string) bool {
	return e.p.Channel != SecurityPatch || !isWindows(family)
}

// pools returns m's pools the channel upgrades.
func (e *evaluator) pools(m Member) []nodeimage.Pool {
	var out []nodeimage.Pool
	for _, np := range m.NodePools {
		img, err := nodeimage.Parse(np.NodeImageVersion)
		if err != nil || !e.relevant(img.Family) {
			continue
		}
		out = append(out, nodeimage.Pool{Member: m.Name, Name: np.Name, Region: m.Region, Image: img})
	}
	return out
}

// nodeImages resolves a node image channel and returns the members to
// upgrade. The target is Consistent over every member the profile reaches
// ("The Node image channel always uses consistent image", update-automation.md),
// so it is offered in every region of the fleet.
func (e *evaluator) nodeImages() []Member {
	if !e.f.hasGA {
		e.out.Message = "AKS offers no GA Kubernetes version in any region, so no cluster can be checked against the support window"
		return nil
	}
	var all []nodeimage.Pool
	var inWindow []Member
	for _, m := range e.inScope {
		if e.outsideWindow(m) {
			continue
		}
		inWindow = append(inWindow, m)
		all = append(all, e.pools(m)...)
	}
	sel, unresolved := nodeimage.ResolveConsistent(e.c.images, all)
	e.selection = sel
	for _, img := range sel {
		e.out.Target.NodeImages = append(e.out.Target.NodeImages, img.String())
	}
	why := map[string]string{} // member → why one of its pools has no target
	for _, u := range unresolved {
		if _, ok := why[u.Pool.Member]; !ok {
			why[u.Pool.Member] = fmt.Sprintf("agent pool %q: %s", u.Pool.Name, u.Reason)
		}
	}
	behind := func(m Member) bool {
		for _, p := range e.pools(m) {
			if t, ok := sel.Lookup(p.Image.Family); ok {
				if c, _ := p.Image.Compare(t); c < 0 {
					return true
				}
			}
		}
		return false
	}
	for _, m := range e.notInStrategy {
		if behind(m) {
			e.leave(m.Name, "its update group %q is in no stage of the profile's strategy; add the group to the strategy", NotInStrategy, m.Group)
		}
	}
	var inc []Member
	for _, m := range inWindow {
		b := behind(m)
		// A Consistent run skips a member with a pool that has no target (Fleet
		// concepts doc); SecurityPatch's Custom selection leaves such a pool alone.
		if w, ok := why[m.Name]; ok && (e.p.Channel == NodeImage || !b) {
			e.leave(m.Name, "%s; no node image is common to the fleet's regions for it", NoConsistentNodeImage, strings.TrimSuffix(w, "."))
			continue
		}
		if !b || e.heldBack(m) {
			continue
		}
		inc = append(inc, m)
	}
	return inc
}
