package autoupgrade_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

const (
	ubuntu  = "AKSUbuntu-2204gen2containerd-"
	azl     = "AKSAzureLinux-V2gen2-"
	windows = "AKSWindows-2022-containerd-"
)

// versions parses "1.29.9 1.30.5 1.31.0p 1.27.9lts" into offered versions:
// a "p" suffix is preview, "lts" an LTS minor.
func versions(s string) []autoupgrade.KubernetesVersion {
	var out []autoupgrade.KubernetesVersion
	for _, f := range strings.Fields(s) {
		k := autoupgrade.KubernetesVersion{}
		if v, ok := strings.CutSuffix(f, "lts"); ok {
			f, k.LongTermSupport = v, true
		}
		if v, ok := strings.CutSuffix(f, "p"); ok {
			f, k.IsPreview = v, true
		}
		k.Version = f
		out = append(out, k)
	}
	return out
}

// offer builds releases where every region offers the same versions and images.
func offer(k8s string, images []string, regions ...string) autoupgrade.Releases {
	if len(regions) == 0 {
		regions = []string{"eastus"}
	}
	r := autoupgrade.Releases{Regions: map[string]autoupgrade.RegionReleases{}}
	for _, name := range regions {
		r.Regions[name] = autoupgrade.RegionReleases{KubernetesVersions: versions(k8s), NodeImageVersions: images}
	}
	return r
}

// member builds a member with one pool per image.
func member(name, version string, images ...string) autoupgrade.Member {
	m := fleetupdate.Member{Name: name, Region: "eastus", KubernetesVersion: version}
	for i, img := range images {
		m.NodePools = append(m.NodePools, fleetupdate.NodePool{Name: "pool" + string(rune('a'+i)), NodeImageVersion: img})
	}
	if len(images) == 0 {
		m.NodePools = []fleetupdate.NodePool{{Name: "system", NodeImageVersion: ubuntu + "202603.02.0"}}
	}
	return autoupgrade.Member{Member: m}
}

func plan(t *testing.T, p autoupgrade.Profile, ms []autoupgrade.Member, rel autoupgrade.Releases, h autoupgrade.History) autoupgrade.Evaluation {
	t.Helper()
	ev, err := autoupgrade.Plan(p, ms, rel, h)
	require.NoError(t, err)
	return ev
}

// targeted lists, per generated run, its members' names joined by commas.
func targeted(ev autoupgrade.Evaluation) []string {
	var out []string
	for _, g := range ev.Runs {
		var names []string
		for _, m := range g.Members {
			names = append(names, m.Name)
		}
		out = append(out, strings.Join(names, ","))
	}
	return out
}

// reasons maps left-out members to their reasons.
func reasons(ev autoupgrade.Evaluation) map[string]autoupgrade.Reason {
	out := map[string]autoupgrade.Reason{}
	for _, l := range ev.LeftOut {
		out[l.Member] = l.Reason
	}
	return out
}

// finished returns g's record with the run in state run and members in the given states, by name.
func finished(g autoupgrade.GeneratedRun, run fleetupdate.State, members map[string]fleetupdate.State) autoupgrade.RunRecord {
	rec := g.Created()
	rec.State = run
	for i, m := range rec.Members {
		if s, ok := members[m.Name]; ok {
			rec.Members[i].State = s
		} else {
			rec.Members[i].State = fleetupdate.Completed
		}
	}
	return rec
}
