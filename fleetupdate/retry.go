package fleetupdate

// Retry: the inputs of the next run over what a run failed or skipped, with
// the inputs it chose pinned (Azure/AKS#5733).

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

// RetryOptions says which members a retry takes besides those that Failed
// or that the system skipped for a reason a retry can change.
type RetryOptions struct {
	// UserSkipped also retries members a user skipped, directly or with
	// their group or stage (Azure/AKS#5733 asks for these too).
	UserSkipped bool
	// Unfinished also retries the members of a Stopped or Failed run that
	// never finished (NotStarted or Pending). Do not then Start that run
	// again: it would upgrade them a second time.
	Unfinished bool
	// Name names the retry; empty derives it from the run's name (see
	// Run.Retry). With several runs, each gets "-1", "-2", … after it.
	Name string
}

// RetryRun is the inputs of one retry run: New(r.Name, r.Spec, r.Members,
// catalog) accepts them.
type RetryRun struct {
	Name    string
	Spec    Spec
	Members []Member // sorted by name; deep copies
}

// RetryPlan is what Run.Retry builds: usually one run, none when there is
// nothing to retry, several when one run cannot pin what the first one
// chose. A run's Custom selection holds one image per node image family,
// and a Latest run can have chosen several of one family (regions receive
// images a week or two apart, and a long run sees new ones); a minor-only
// Kubernetes target can likewise have resolved to different patches; and
// members a Consistent run skipped for want of an image need a Consistent
// run of their own.
//
// The runs share no members, and each goes through its own stages: a host
// that runs them one after another may upgrade a prod member of the first
// before a canary member of the second. Run them in sequence only if that
// order is acceptable.
type RetryPlan struct {
	Runs []RetryRun
	// Catalog is the catalog as the first run last knew it, a deep copy; a
	// host with a fresher one passes that to New instead.
	Catalog Catalog
}

// Retry builds the inputs of the run that retries what r did not do: its
// members that Failed (or that failed an attempt and that a stop left
// NotStarted or Pending: queued again by a restart, or waiting for the
// catalog after NodeImageVersionNotAvailable), and those the system skipped
// for a reason a retry can change (a Consistent selection that found no
// image for one of their pools), with the exact Kubernetes version and node
// images r chose for each pinned, the images as a Custom selection (with the
// exception below for members a Consistent selection skipped). Options add the
// members a user skipped (with one that Failed in a group or stage a user
// skipped while it was being upgraded) and, for a Stopped or Failed run,
// those it never finished. Members the system skipped because they were
// already at the target, and members that left the fleet, are never
// retried.
//
// r must be Completed, Skipped, Failed or Stopped: a run that has not
// started, is running or is stopping is refused (ErrInvalidTransition). A
// run with nothing to retry gives a plan with no runs and no error. Once a
// Stopped or Failed run is retried, do not Start it again: it would try its
// Failed members again too.
//
// Each retry run keeps r's strategy, restricted to its members: stages and
// groups in the same order with the same concurrency, failure budgets,
// waits and gates (an approval given for r approves r, not the retry),
// dropping the groups and stages that hold none of them. Members keep the
// group and labels r placed them by (r does not follow label changes), so
// each lands in its group of r; the rest of their data is as r last knew it
// (MemberChanged included). The updateStrategyId is dropped: the strategy is
// no longer a copy of it. Percentages in maxConcurrency and
// maxAllowedFailures are of the retry's smaller groups and stages: "10%" of
// a group of 30 upgrades 3 at a time, of 4 members retried from it 1; set
// counts where the first run's numbers matter.
//
// The Kubernetes version is the patch r chose for the member; for a member
// r never asked an upgrade for, the patch r's target means in its region in
// r's catalog (r's target as written if that offers none). Members that
// differ go in separate runs.
//
// Node images: under Consistent and Custom, r's selection. Under Latest,
// the images r chose for each member, pinned per family, with members that
// need different images of one family (or pools r left alone that a pin
// would move) in separate runs; a member r chose no image for (never
// started: refused, skipped or not reached) goes in a run that keeps
// Latest, as there is nothing to pin. ControlPlaneOnly has no selection. A
// run whose pins would be empty pins the images its pools already have, so
// the retry leaves them alone as r did. A pinned image that has since left
// the catalog makes the member Pending, as it would in r.
//
// Members r skipped under Consistent because no consistent image existed
// for one of their pools are not pinned: r's selection cannot supply the
// image r never had, so the retry would upgrade their Kubernetes and other
// pools and leave that pool alone, the partial upgrade r refused. They go
// in a run of their own whose selection is Consistent, resolved over its
// members when it starts, against the catalog then; their Kubernetes
// version is the patch r's target meant for them, as above.
//
// The name is r's with "-retry-N" after it: "roll" gives "roll-retry-1",
// "roll-retry-1" gives "roll-retry-2" and part "roll-retry-1-2" of a split
// retry gives "roll-retry-2-2"; the part before "-retry-" is cut to keep
// within 50 characters. Names are unique along one line of retries, not
// across the fleet: a second retry of the same run gets the same name.
//
// Retry reads r through its persisted form, the stable view of each
// member's data and pinned inputs; it costs O(members).
func (r Run) Retry(opt RetryOptions) (RetryPlan, error) {
	b, err := r.MarshalJSON()
	if err != nil {
		panic("fleetupdate: a run does not encode: " + err.Error())
	}
	if string(b) == "null" {
		return RetryPlan{}, fmt.Errorf("%w: the zero Run has nothing to retry", ErrInvalidTransition)
	}
	var snap runJSON
	if err := json.Unmarshal(b, &snap); err != nil {
		panic("fleetupdate: a run's persisted form does not read back: " + err.Error())
	}
	name := snap.Name
	switch ph := snap.State.Phase; ph {
	case Completed, Skipped, Failed, Stopped:
	case NotStarted:
		return RetryPlan{}, fmt.Errorf("%w: run %q has not started; start it instead of retrying it", ErrInvalidTransition, name)
	default:
		return RetryPlan{}, fmt.Errorf("%w: run %q is %s; retry a run once it has finished (Completed, Skipped) or stopped (Failed, Stopped)", ErrInvalidTransition, name, r.State())
	}
	spec := r.Spec()
	up := spec.ManagedClusterUpdate.Upgrade.Type
	st := r.Status()

	given := map[string]Member{} // as New was given them: the labels that placed them
	for _, m := range snap.Members {
		given[m.Name] = m
	}
	saved := map[string]memberJSON{}
	for _, m := range snap.State.Members {
		saved[m.Name] = m
	}
	userSkipped := map[string]bool{} // groups a user skipped, with their stage or alone
	for _, g := range snap.State.Groups {
		userSkipped[g.Name] = g.Skipped
	}

	// Which members, and the group r had each in.
	groupOf := map[string]string{}
	var picked []string
	// Members the system skipped under Consistent (no consistent image for
	// one of their pools): they get a Consistent selection of their own.
	fresh := map[string]bool{}
	consistent := up != ControlPlaneOnly && spec.ManagedClusterUpdate.NodeImageSelection != nil &&
		spec.ManagedClusterUpdate.NodeImageSelection.Type == Consistent
	for _, ss := range st.Stages {
		for _, gs := range ss.Groups {
			for _, ms := range gs.Members {
				if retryable(ms, saved[ms.Name], userSkipped[gs.Name], opt) {
					groupOf[ms.Name] = gs.Name
					picked = append(picked, ms.Name)
					fresh[ms.Name] = consistent && systemSkipped(ms)
				}
			}
		}
	}
	if len(picked) == 0 {
		return RetryPlan{Catalog: cloneCatalog(snap.Catalog)}, nil
	}
	slices.Sort(picked)

	// The run's own selection, for Consistent and Custom.
	var shared []nodeimage.Image
	if sel := st.NodeImageSelection; sel != nil {
		for _, v := range sel.SelectedNodeImageVersions {
			img, err := nodeimage.Parse(v.Version)
			if err != nil {
				return RetryPlan{}, fmt.Errorf("%w: run %q: selected node image %q: %v", ErrInvalidEncoding, name, v.Version, err)
			}
			shared = append(shared, img)
		}
	}
	latest := up != ControlPlaneOnly && st.NodeImageSelection == nil
	// The Kubernetes version for a member r never asked an upgrade for: the
	// patch r's target meant in its region, in r's catalog.
	k8sFor := func(region string) string { return "" }
	if up != NodeImageOnly {
		target, err := kversion.Parse(spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
		if err != nil {
			panic("fleetupdate: a run's target does not parse: " + err.Error())
		}
		k8sFor = func(region string) string {
			var offered []kversion.Version
			for _, s := range snap.Catalog.Regions[region].KubernetesVersions {
				if v, err := kversion.Parse(s); err == nil {
					offered = append(offered, v)
				}
			}
			if v, err := kversion.Resolve(target, offered); err == nil {
				return v.String()
			}
			return target.String()
		}
	}

	var parts []*retryPart
	data := map[string]Member{}
	for _, n := range picked {
		m := given[n]
		if d := saved[n].Data; d != nil {
			m = cloneMember(*d)
			m.Group, m.Labels = given[n].Group, maps.Clone(given[n].Labels)
		} else {
			m = cloneMember(m)
		}
		data[n] = m
		need, err := retryNeedOf(m, saved[n].Pinned, k8sFor(m.Region), latest)
		if err != nil {
			return RetryPlan{}, fmt.Errorf("%w: run %q: %v", ErrInvalidEncoding, name, err)
		}
		need.consistent = fresh[n]
		i := slices.IndexFunc(parts, func(p *retryPart) bool { return p.fits(need) })
		if i < 0 {
			i = len(parts)
			parts = append(parts, &retryPart{k8s: need.k8s, latest: need.latest, consistent: need.consistent, pins: map[string]nodeimage.Image{}, floors: map[string]nodeimage.Image{}})
		}
		parts[i].add(need)
	}

	names, err := retryNames(name, opt.Name, len(parts))
	if err != nil {
		return RetryPlan{}, err
	}
	plan := RetryPlan{Catalog: cloneCatalog(snap.Catalog)}
	for i, p := range parts {
		rs := r.Spec() // a copy of its own
		rs.UpdateStrategyID = ""
		if rs.Strategy != nil {
			groups := map[string]bool{}
			for _, n := range p.members {
				groups[groupOf[n]] = true
			}
			rs.Strategy = restrictStrategy(rs.Strategy, groups)
		}
		mcu := &rs.ManagedClusterUpdate
		mcu.Upgrade.KubernetesVersion = p.k8s
		members := make([]Member, len(p.members))
		for j, n := range p.members {
			members[j] = data[n]
		}
		switch {
		case up == ControlPlaneOnly:
			mcu.NodeImageSelection = nil
		case p.latest:
			// r chose nothing for these members: keep its Latest.
		case p.consistent:
			// r's selection lacks an image they need: resolve afresh.
			mcu.NodeImageSelection = &NodeImageSelection{Type: Consistent}
		default:
			imgs := shared
			if latest {
				imgs = slices.Collect(maps.Values(p.pins))
			}
			if len(imgs) == 0 {
				imgs = floorImages(members)
			}
			if len(imgs) == 0 {
				mcu.NodeImageSelection = nil // no pool has an image to move
				break
			}
			sel := &NodeImageSelection{Type: Custom}
			for _, img := range imgs {
				sel.CustomNodeImageVersions = append(sel.CustomNodeImageVersions, NodeImageVersion{Version: img.String()})
			}
			slices.SortFunc(sel.CustomNodeImageVersions, func(a, b NodeImageVersion) int { return strings.Compare(a.Version, b.Version) })
			mcu.NodeImageSelection = sel
		}
		plan.Runs = append(plan.Runs, RetryRun{Name: names[i], Spec: rs, Members: members})
	}
	return plan, nil
}

// retryable says whether a member, as r's status shows it, is retried.
// Its saved record and groupSkipped say what the status does not show: a
// member that was being upgraded when it left the fleet or a user skipped
// its group stays Running until its operation ends and can end Failed, but
// Start would then skip it (abandoned, step.go), and so does a retry; a
// member with an attempt that is NotStarted or Pending failed it (a
// restart queued it again, or NodeImageVersionNotAvailable left it waiting
// for the catalog) and is retried like a Failed one.
func retryable(ms MemberStatus, saved memberJSON, groupSkipped bool, opt RetryOptions) bool {
	if saved.Removed {
		return false
	}
	switch ms.Status.State {
	case Failed:
		return !groupSkipped || opt.UserSkipped
	case NotStarted, Pending:
		return saved.Attempt > 0 || opt.Unfinished
	case Skipped:
		msg := ms.Message
		switch {
		case msg == msgLeftFleet:
			return false // gone from the fleet
		case strings.HasPrefix(msg, msgUserSkipped):
			return opt.UserSkipped
		case atTarget(msg):
			return false // a retry would skip it again
		}
		// Any other reason the system gives (today: no Consistent image
		// for a pool) may not hold for a retry; when in doubt, retry.
		return true
	}
	return false
}

// systemSkipped says whether a member retryable took is one the system
// skipped (for a reason a retry can change), not a user.
func systemSkipped(ms MemberStatus) bool {
	return ms.Status.State == Skipped && !strings.HasPrefix(ms.Message, msgUserSkipped)
}

// The messages Skip, MemberChanged and prepare give skipped members
// (skip.go, facts.go, prepare.go); status shows them, so they are stable.
const (
	msgUserSkipped = "skipped by user"
	msgLeftFleet   = "member left the fleet"
)

// atTarget says whether a skip message is prepare's "nothing to do".
func atTarget(msg string) bool {
	return strings.HasPrefix(msg, "already at target") || msg == "nothing to upgrade" ||
		strings.HasPrefix(msg, "control plane Kubernetes version ") && strings.Contains(msg, " is already at or ahead of target ")
}

// retryNeed is what one member requires of the retry run that holds it.
type retryNeed struct {
	name       string
	k8s        string // the patch r chose, else the one its target means; "" for NodeImageOnly
	latest     bool   // Latest, and r chose it no image: it keeps Latest
	consistent bool   // Consistent, and r skipped it for want of an image: Consistent again
	pins       map[string]nodeimage.Image
	floors     map[string]nodeimage.Image // per family it has no pin for: its lowest pool image, which no pin may pass
}

func retryNeedOf(m Member, pinned *pinnedInputs, k8s string, latest bool) (retryNeed, error) {
	need := retryNeed{name: m.Name, k8s: k8s, pins: map[string]nodeimage.Image{}, floors: map[string]nodeimage.Image{}}
	if pinned != nil && k8s != "" {
		need.k8s = pinned.KubernetesVersion
	}
	if !latest {
		return need, nil
	}
	if pinned == nil {
		need.latest = true
		return need, nil
	}
	for _, pi := range pinned.NodeImages {
		img, err := nodeimage.Parse(pi.NodeImageVersion)
		if err != nil {
			return need, fmt.Errorf("member %q: pinned image of pool %q: %v", m.Name, pi.Pool, err)
		}
		if had, ok := need.pins[img.Family]; ok && had.String() != img.String() {
			return need, fmt.Errorf("member %q: pinned images %s and %s are of one family; a Custom selection holds one", m.Name, had, img)
		}
		need.pins[img.Family] = img
	}
	for _, np := range m.NodePools {
		img, err := nodeimage.Parse(np.NodeImageVersion)
		if err != nil {
			continue // no image: every selection leaves it alone
		}
		if _, ok := need.pins[img.Family]; !ok {
			keepLowest(need.floors, img)
		}
	}
	return need, nil
}

// keepLowest records img in low if it is the lowest of its family so far.
func keepLowest(low map[string]nodeimage.Image, img nodeimage.Image) {
	if had, ok := low[img.Family]; !ok || img.Version.Compare(had.Version) < 0 {
		low[img.Family] = img
	}
}

// retryPart is one retry run being filled.
type retryPart struct {
	k8s        string
	latest     bool
	consistent bool
	pins       map[string]nodeimage.Image
	floors     map[string]nodeimage.Image
	members    []string
}

// fits says whether the member can join: the same Kubernetes version and
// kind of selection, and a Custom selection that gives it exactly its pins
// and moves none of the pools it has no pin for.
func (p *retryPart) fits(n retryNeed) bool {
	if p.latest != n.latest || p.consistent != n.consistent || p.k8s != n.k8s {
		return false
	}
	for f, img := range n.pins {
		if had, ok := p.pins[f]; ok && had.String() != img.String() {
			return false
		}
		if fl, ok := p.floors[f]; ok && img.Version.Compare(fl.Version) > 0 {
			return false
		}
	}
	for f, fl := range n.floors {
		if had, ok := p.pins[f]; ok && had.Version.Compare(fl.Version) > 0 {
			return false
		}
	}
	return true
}

func (p *retryPart) add(n retryNeed) {
	maps.Copy(p.pins, n.pins)
	for _, img := range n.floors {
		keepLowest(p.floors, img)
	}
	p.members = append(p.members, n.name)
}

// floorImages is, per family, the lowest image the members' pools have: a
// Custom selection that moves no pool.
func floorImages(members []Member) []nodeimage.Image {
	low := map[string]nodeimage.Image{}
	for _, m := range members {
		for _, np := range m.NodePools {
			if img, err := nodeimage.Parse(np.NodeImageVersion); err == nil {
				keepLowest(low, img)
			}
		}
	}
	return slices.Collect(maps.Values(low))
}

// restrictStrategy keeps the groups named in keep (a stage without groups
// stands for its implicit group, named after it) and the stages left with
// any, in order.
func restrictStrategy(s *Strategy, keep map[string]bool) *Strategy {
	out := &Strategy{}
	for _, st := range s.Stages {
		if len(st.Groups) == 0 {
			if keep[st.Name] {
				out.Stages = append(out.Stages, st)
			}
			continue
		}
		groups := slices.DeleteFunc(st.Groups, func(g Group) bool { return !keep[g.Name] })
		if len(groups) > 0 {
			st.Groups = groups
			out.Stages = append(out.Stages, st)
		}
	}
	return out
}

// retryNamePattern reads a name Retry derived: base, N and the parts of
// split retries.
var retryNamePattern = regexp.MustCompile(`^(.+?)-retry-([0-9]+)((?:-[0-9]+)*)$`)

// retryNames names k retry runs of the run called name, or after given.
func retryNames(name, given string, k int) ([]string, error) {
	suffix := func(i int) string {
		if k == 1 {
			return ""
		}
		return "-" + strconv.Itoa(i+1)
	}
	out := make([]string, k)
	if given != "" {
		for i := range out {
			out[i] = given + suffix(i)
			if err := checkName("RetryOptions.Name", out[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	base, n, tail := name, 1, ""
	if m := retryNamePattern.FindStringSubmatch(name); m != nil {
		if c, err := strconv.Atoi(m[2]); err == nil && c < 1<<30 {
			base, n, tail = m[1], c+1, m[3]
		}
	}
	rest := "-retry-" + strconv.Itoa(n) + tail
	room := 50 - len(rest) - len(suffix(k-1))
	if room < 1 {
		return nil, fmt.Errorf("%w: run %q: too long a line of retries to derive a name; set RetryOptions.Name", ErrInvalidSpec, name)
	}
	if len(base) > room {
		base = strings.TrimRight(base[:room], "-")
	}
	for i := range out {
		out[i] = base + rest + suffix(i)
	}
	return out, nil
}
