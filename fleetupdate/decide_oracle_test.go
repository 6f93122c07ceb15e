package fleetupdate

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

// TestDecideMatchesReference checks that plan.decide, made cheaper, still
// gives exactly the verdicts, commands and messages of the version it
// replaced (decideRef, kept verbatim below) on generated catalogs, specs
// and members: every upgrade type and selection, unsorted and unversioned
// pools, regions the catalog lacks, versions written with a "v" or leading
// zeros.
func TestDecideMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := genDecideRun(t)
		for id := range r.p.members {
			d := &r.p.members[id]
			want := decideRef(r.p, r.s.catalog, r.s.selection, r.s.unresolved, int32(id), d)
			got := r.p.decide(r.s.catalog, r.s.selection, r.s.unresolved, int32(id), d)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("member %+v:\n got %+v\nwant %+v", *d, got, want)
			}
		}
	})
}

// decideK8s and decideImages are the version strings the generated runs
// draw from: alike versions written differently, so that a string taken
// from the wrong place shows.
var (
	decideK8s    = []string{"1.28.9", "1.29.4", "v1.29.4", "1.29.04", "1.30", "1.30.2", "1.30.5", "V1.30.05", "1.31.1", "1.32.0", "2.0.1"}
	decideImages = []string{
		ubuntu + "-202405.13.0", ubuntu + "-202405.20.0", ubuntu + "-202405.27.0", ubuntu + "-202405.27.00",
		ubuntu + "-202410.27.0-2024.12.01", ubuntu + "-2023.03.28",
		"AKSUbuntu-2204containerd-202405.20.0", "AKSUbuntu-2204containerd-202405.27.0",
		"AKSWindows-2022-containerd-20348.3000.250101", "AKSWindows-2022-containerd-20348.3207.250214",
	}
)

func genDecideRun(t *rapid.T) Run {
	cat := Catalog{Regions: map[string]RegionCatalog{}}
	for _, region := range []string{regionA, regionB, "japaneast"} {
		if rapid.IntRange(0, 5).Draw(t, "regionMissing") == 0 {
			continue
		}
		var rc RegionCatalog
		for _, k := range decideK8s {
			if rapid.Bool().Draw(t, "offersK8s") {
				rc.KubernetesVersions = append(rc.KubernetesVersions, k)
			}
		}
		for _, img := range decideImages {
			if rapid.IntRange(0, 2).Draw(t, "offersImage") > 0 {
				rc.NodeImageVersions = append(rc.NodeImageVersions, img)
			}
		}
		cat.Regions[region] = rc
	}
	up := rapid.SampledFrom([]UpgradeType{Full, ControlPlaneOnly, NodeImageOnly}).Draw(t, "upgrade")
	mcu := ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: up}}
	if up != NodeImageOnly {
		mcu.Upgrade.KubernetesVersion = rapid.SampledFrom([]string{"1.29", "1.30", "1.30.5", "v1.30.05", "1.31", "1.32.0"}).Draw(t, "target")
	}
	if up != ControlPlaneOnly {
		sel := rapid.SampledFrom([]NodeImageSelectionType{Latest, Consistent, Custom}).Draw(t, "selection")
		mcu.NodeImageSelection = &NodeImageSelection{Type: sel}
		if sel == Custom {
			for i, group := range [][]string{decideImages[:6], decideImages[6:8], decideImages[8:]} {
				lo := -1 // -1: no version of this family
				if i == 0 {
					lo = 0 // Custom needs one version at least
				}
				if k := rapid.IntRange(lo, len(group)-1).Draw(t, "custom"); k >= 0 {
					mcu.NodeImageSelection.CustomNodeImageVersions = append(mcu.NodeImageSelection.CustomNodeImageVersions, NodeImageVersion{group[k]})
				}
			}
		}
	}
	var ms []Member
	for i := range rapid.IntRange(1, 12).Draw(t, "members") {
		m := Member{
			Name:              fmt.Sprintf("m-%02d", i),
			Region:            rapid.SampledFrom([]string{regionA, regionB, "japaneast", "brazilsouth"}).Draw(t, "region"),
			KubernetesVersion: rapid.SampledFrom(decideK8s).Draw(t, "k8s"),
			LongTermSupport:   rapid.IntRange(0, 3).Draw(t, "lts") == 0,
		}
		names := rapid.Permutation([]string{"system", "user", "gpu", "arm64", "zz"}).Draw(t, "poolNames")
		for p := range rapid.IntRange(0, 4).Draw(t, "pools") {
			np := NodePool{Name: names[p]}
			if rapid.IntRange(0, 5).Draw(t, "noImage") > 0 {
				np.NodeImageVersion = rapid.SampledFrom(decideImages).Draw(t, "image")
			}
			if rapid.IntRange(0, 2).Draw(t, "poolVersion") == 0 {
				np.KubernetesVersion = rapid.SampledFrom(append([]string{"1.25.3", "1.26.1"}, decideK8s...)).Draw(t, "poolK8s")
			}
			m.NodePools = append(m.NodePools, np)
		}
		ms = append(ms, m)
	}
	r, err := New("decide", Spec{ManagedClusterUpdate: mcu}, ms, cat)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// decideRef is plan.decide as it was before it was made cheaper: the
// oracle TestDecideMatchesReference holds the new one to. Do not edit
// (but for reading the offered Kubernetes versions where the catalog keeps
// them now).
func decideRef(p *plan, cat *compiledCatalog, selection nodeimage.Selection, unresolved map[int32]string, id int32, d *Member) verdict {
	up := p.v.upType
	cmd := UpgradeMember{Member: d.Name, Type: up}
	var notes []string // pools left alone
	cpNote := ""       // why the control plane needs nothing
	needK8s := false

	if up != NodeImageOnly {
		cur, _ := kversion.Parse(d.KubernetesVersion)
		target := p.v.target
		resolved, rerr := kversion.Resolve(target, cat.regions[d.Region].k8s)
		if rerr == nil {
			target = resolved
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
						return verdict{kind: vFail, note: fmt.Sprintf("agent pool %q: %v", np.Name, err)}
					}
				}
			}
			if rerr != nil {
				return verdict{kind: vWait, code: CodeKubernetesVersionNotAvailable, note: fmt.Sprintf("target Kubernetes version %s is not available in region %q", p.v.target, d.Region)}
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
		if why, ok := unresolved[id]; ok { // only Consistent resolves ahead
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
			switch p.v.selection {
			case Latest:
				// A region that offers no image of the family gives no target:
				// the pool is left alone, as under Custom.
				target, _ = nodeimage.ResolveLatest(cat.images, d.Region, cur.Family)
			case Consistent:
				t, ok := selection.Lookup(cur.Family)
				if !ok {
					return verdict{kind: vSkip, note: fmt.Sprintf("no consistent node image for agent pool %q of family %q", np.Name, cur.Family)}
				}
				target = t
			case Custom:
				target, _ = p.v.custom.Lookup(cur.Family)
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
