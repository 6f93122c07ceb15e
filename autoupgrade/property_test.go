package autoupgrade_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

const day = 24 * time.Hour

// profiles draws a profile of any channel over the scenario's groups.
func profiles(sc fake.AutoUpgradeScenario) *rapid.Generator[autoupgrade.Profile] {
	return rapid.Custom(func(t *rapid.T) autoupgrade.Profile {
		p := autoupgrade.Profile{Name: "auto", Channel: rapid.SampledFrom([]autoupgrade.Channel{
			autoupgrade.Stable, autoupgrade.Rapid, autoupgrade.TargetKubernetesVersion, autoupgrade.NodeImage, autoupgrade.SecurityPatch,
		}).Draw(t, "channel")}
		if p.Channel == autoupgrade.TargetKubernetesVersion {
			newest := 0
			for _, k := range sc.Train.At(sc.Stop.Add(30 * day)).Regions[sc.Train.Regions[0]].KubernetesVersions {
				v, _ := kversion.Parse(k.Version)
				if !k.IsPreview {
					newest = max(newest, v.Minor)
				}
			}
			p.TargetKubernetesVersion = fmt.Sprintf("1.%d", rapid.IntRange(newest-2, newest).Draw(t, "targetMinor"))
		}
		if p.Channel == autoupgrade.Stable || p.Channel == autoupgrade.Rapid || p.Channel == autoupgrade.TargetKubernetesVersion {
			p.ChainNodeImageUpgrade = rapid.Bool().Draw(t, "chain")
			if rapid.Bool().Draw(t, "consistent") {
				p.NodeImageSelection = &autoupgrade.NodeImageSelection{Type: fleetupdate.Consistent}
			}
		}
		if rapid.Bool().Draw(t, "strategy") {
			var groups []string
			for _, m := range sc.Fleet.Members {
				if !slices.Contains(groups, m.Group) {
					groups = append(groups, m.Group)
				}
			}
			p.Strategy = fake.Strategies(groups).Draw(t, "stages")
		}
		return p
	})
}

// settle is how many daily evaluations after the last release has reached every
// region the convergence property allows.
const settle = 60

// simulate runs a profile over a scenario until days after its train's last
// release has reached every region. Some members fail their first one or two
// attempts (a stopped cluster), whatever run they are in.
func simulate(t *rapid.T, sc fake.AutoUpgradeScenario, p autoupgrade.Profile, days int) fake.AutoUpgradeTrace {
	h := fake.NewHost(sc.Fleet.Clone(), rapid.Uint64().Draw(t, "seed"))
	h.Duration, h.Jitter = 45*time.Minute, 30*time.Minute
	h.Script = map[string][]fake.Outcome{}
	for _, m := range sc.Fleet.Members {
		for range rapid.SampledFrom([]int{0, 0, 0, 1, 2}).Draw(t, "failures") {
			h.Script[m.Name] = append(h.Script[m.Name], fake.Outcome{Code: "OperationNotAllowed", Message: "the cluster is stopped"})
		}
	}
	horizon := sc.Stop.Sub(sc.Start) + time.Duration(cmpOr(sc.Train.Rollout, fake.Duration(fake.DefaultRollout))) + time.Duration(days)*day
	tr, err := fake.SimulateAutoUpgrade(h, sc.Train, []autoupgrade.Profile{p}, fake.AutoUpgradeOptions{Start: sc.Start, Horizon: horizon, LTS: sc.LTS})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Fleet concepts doc: auto-upgrade "doesn't move clusters between minor Kubernetes
// versions when there's more than one minor Kubernetes version difference".
func TestPropertyNoGeneratedRunSkipsAMinor(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := fake.AutoUpgradeScenarios().Draw(t, "scenario")
		tr := simulate(t, sc, profiles(sc).Draw(t, "profile"), 0)
		for _, r := range tr.Runs {
			k := r.Run.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion
			if k == "" {
				continue
			}
			target, _ := kversion.Parse(k)
			for _, m := range r.Run.Members {
				cur, _ := kversion.Parse(m.KubernetesVersion)
				if err := kversion.CheckMinorSkip(cur, target, false); err != nil {
					t.Fatalf("run %s: member %s: %v", r.Run.Name, m.Name, err)
				}
			}
		}
	})
}

// Fleet concepts doc: "Auto-upgrade only updates to GA versions of Kubernetes and doesn't
// update to preview versions" — not in any region a targeted member is in.
func TestPropertyNoPreviewVersionIsEverTargeted(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := fake.AutoUpgradeScenarios().Draw(t, "scenario")
		tr := simulate(t, sc, profiles(sc).Draw(t, "profile"), 0)
		for _, r := range tr.Runs {
			k := r.Run.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion
			if k == "" {
				continue
			}
			rel := sc.Train.At(r.Created)
			for _, m := range r.Run.Members {
				ga := slices.ContainsFunc(rel.Regions[m.Region].KubernetesVersions, func(v autoupgrade.KubernetesVersion) bool { return v.Version == k && !v.IsPreview })
				if !ga {
					t.Fatalf("run %s targets %s for %s, which region %s does not offer as GA at %s", r.Run.Name, k, m.Name, m.Region, r.Created.Format(time.DateOnly))
				}
			}
		}
	})
}

// update-orchestration.md: a run's name follows from the upgrade specification; Plan is
// pure: the same inputs give the same runs with the same names, in any member order.
func TestPropertySameInputsGiveTheSameRunsWithTheSameNames(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := fake.AutoUpgradeScenarios().Draw(t, "scenario")
		p := profiles(sc).Draw(t, "profile")
		tr := simulate(t, sc, p, 0)
		// Replay every evaluation from its inputs: the members as created runs saw them are
		// gone, so evaluate the final state at a drawn time, twice, members shuffled.
		at := sc.Start.Add(time.Duration(rapid.IntRange(0, int(tr.End.Sub(sc.Start)/day)).Draw(t, "day")) * day)
		cut := rapid.IntRange(0, len(tr.History)).Draw(t, "historyLength")
		members := autoupgrade.Members(sc.Fleet.Members)
		a, err := autoupgrade.Plan(p, members, sc.Train.At(at), tr.History[:cut])
		if err != nil {
			t.Fatal(err)
		}
		shuffled := rapid.Permutation(members).Draw(t, "shuffled")
		b, err := autoupgrade.Plan(p, shuffled, sc.Train.At(at), slices.Clone(tr.History[:cut]))
		if err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("same inputs, different evaluations:\n%v\n%v", a, b)
		}
		for _, g := range a.Runs {
			for _, r := range tr.History[:cut] {
				if r.Name == g.Name {
					t.Fatalf("generated %s, which the history holds", g.Name)
				}
			}
		}
	})
}

// permanent reasons need a person; the others pass by themselves.
var permanent = map[autoupgrade.Reason]bool{
	autoupgrade.InvalidMember: true, autoupgrade.UnknownRegion: true, autoupgrade.NotInStrategy: true, autoupgrade.OutsideSupportWindow: true,
	autoupgrade.MinorVersionSkip: true, autoupgrade.NodePoolSkew: true, autoupgrade.NoConsistentNodeImage: true,
}

// Azure/AKS#5741: with catch-up, once releases stop (and have rolled out), every member
// reaches its channel's target within a bounded number of evaluations — settle daily
// ones, through failures (a member's first two attempts), maintenance windows and
// strategies —
// unless Plan leaves it out for a reason that needs a person.
func TestPropertyWithCatchUpEveryMemberConvergesOnceReleasesStop(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := fake.AutoUpgradeScenarios().Draw(t, "scenario")
		p := profiles(sc).Draw(t, "profile")
		tr := simulate(t, sc, p, settle)
		for _, r := range tr.Runs {
			if r.Ended.IsZero() {
				t.Fatalf("run %s (created %s, %s) has not finished", r.Run.Name, r.Created.Format(time.DateOnly), r.State)
			}
		}
		last := tr.Evaluations[len(tr.Evaluations)-1].Evaluation
		if len(last.Runs) > 0 {
			t.Fatalf("the last evaluation still generates %s (%s)", last.Runs[0].Name, last.Runs[0].Why)
		}
		left := map[string]autoupgrade.LeftOut{}
		for _, l := range last.LeftOut {
			if !permanent[l.Reason] {
				t.Fatalf("member %s is still left out for a passing reason: %s: %s", l.Member, l.Reason, l.Message)
			}
			left[l.Member] = l
		}
		rel := sc.Train.At(tr.End)
		for _, m := range tr.Members {
			if _, ok := left[m.Name]; ok {
				continue
			}
			now := m.Samples[len(m.Samples)-1]
			if why := behind(p, last.Target, now, rel); why != "" {
				t.Fatalf("member %s did not converge and is not left out: %s", m.Name, why)
			}
		}
	})
}

// behind says how a member's versions fall short of the target, or "".
func behind(p autoupgrade.Profile, target autoupgrade.Target, s fake.VersionSample, rel autoupgrade.Releases) string {
	if target.KubernetesVersion != "" {
		cur, _ := kversion.Parse(s.KubernetesVersion)
		t, _ := kversion.Parse(target.KubernetesVersion)
		if !kversion.NothingToDo(cur, t) {
			return fmt.Sprintf("Kubernetes %s, target %s", cur, t)
		}
	}
	for _, want := range target.NodeImages {
		w, _ := nodeimage.Parse(want)
		for _, have := range s.NodeImages {
			h, _ := nodeimage.Parse(have)
			if c, err := h.Compare(w); err == nil && c < 0 && (p.Channel != autoupgrade.SecurityPatch || !strings.HasPrefix(h.Family, "AKSWindows")) {
				return fmt.Sprintf("node image %s, target %s", have, want)
			}
		}
	}
	return ""
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
