package fake

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Outcome scripts how one upgrade attempt of a member ends.
type Outcome struct {
	Duration time.Duration // zero: the host's duration
	Code     string        // empty: success; otherwise an AKS error code such as "QuotaExceeded"
	Message  string
}

// AKS-like failure codes the host draws from when FailureRate hits.
var failureCodes = []Outcome{
	{Code: "QuotaExceeded", Message: "Operation could not be completed as it results in exceeding approved quota"},
	{Code: "PodDrainFailure", Message: "drain of a node failed: a PodDisruptionBudget allows no eviction"},
	{Code: "OperationNotAllowed", Message: "Another operation is in progress on the managed cluster"},
}

// Host performs UpgradeMember commands against a Fleet. Every choice comes
// from the script or from the seed, so a simulation is reproducible. An
// op's random draws come from the seed and the op's id alone, so outcomes do
// not depend on the order in which ops are performed (a restarted host
// re-sends them in another order). It is not safe for concurrent use.
//
// A Host stands for the clusters, not for the process driving the run: what
// it holds (upgrades in progress and how they will end) survives a simulated
// crash of that process.
type Host struct {
	Fleet *Fleet
	// Duration of an upgrade; Jitter draws it uniformly from
	// [Duration-Jitter, Duration+Jitter] instead.
	Duration, Jitter time.Duration
	// Durations overrides Duration for named members.
	Durations map[string]time.Duration
	// FailureRate is the chance, from 0 to 1, that an unscripted attempt fails
	// with an AKS-like code.
	FailureRate float64
	// Script lists per member the outcomes of its attempts, in order; attempts
	// beyond the list use the defaults above.
	Script map[string][]Outcome
	// Approvals says when the people who approve gates approve the run's
	// Approval gates. The zero value approves each at once.
	Approvals Approvals

	seed     uint64
	index    map[string]int // member name → index in Fleet.Members
	attempts map[string]int
	started  map[fleetupdate.OpID]Completion
	pending  map[fleetupdate.OpID]fleetupdate.UpgradeMember // successes not yet delivered
	approved map[fleetupdate.GateID]approval                // decided approvals, by gate
	// Upgrades counts upgrades that took effect, per member.
	Upgrades map[string]int
}

// NewHost returns a host for fleet whose random draws come from seed. Each
// upgrade takes 30 minutes unless configured otherwise.
func NewHost(fleet *Fleet, seed uint64) *Host {
	return &Host{
		Fleet:    fleet,
		Duration: 30 * time.Minute,
		seed:     seed,
		attempts: map[string]int{},
		started:  map[fleetupdate.OpID]Completion{},
		pending:  map[fleetupdate.OpID]fleetupdate.UpgradeMember{},
		approved: map[fleetupdate.GateID]approval{},
		Upgrades: map[string]int{},
	}
}

// Completion is when and how an upgrade ends.
type Completion struct {
	At    time.Time
	Event fleetupdate.Event // UpgradeSucceeded or UpgradeFailed, stamped At
}

// Perform starts the upgrade c at now and says how it will end. It is
// idempotent per Op: performing the same op again returns the first answer.
// An upgrade whose node image the member's region does not offer at now is
// refused at once with NodeImageVersionNotAvailable, as AKS does.
func (h *Host) Perform(c fleetupdate.UpgradeMember, now time.Time) Completion {
	if done, ok := h.started[c.Op]; ok {
		return done
	}
	m := h.member(c.Member)
	var done Completion
	switch {
	case m == nil:
		done = Completion{now, fleetupdate.UpgradeFailed{At: now, Op: c.Op, Code: "NotFound", Message: fmt.Sprintf("member %q not found", c.Member)}}
	case !h.offered(m.Region, c, now):
		done = Completion{now, fleetupdate.UpgradeFailed{At: now, Op: c.Op, Code: fleetupdate.CodeNodeImageVersionNotAvailable,
			Message: fmt.Sprintf("a target node image version is not available in region %q", m.Region)}}
	default:
		o := h.outcome(c.Member, c.Op)
		at := now.Add(o.Duration)
		if o.Code == "" {
			done = Completion{at, fleetupdate.UpgradeSucceeded{At: at, Op: c.Op}}
			h.pending[c.Op] = c
		} else {
			done = Completion{at, fleetupdate.UpgradeFailed{At: at, Op: c.Op, Code: o.Code, Message: o.Message}}
		}
	}
	h.started[c.Op] = done
	return done
}

func (h *Host) offered(region string, c fleetupdate.UpgradeMember, now time.Time) bool {
	for _, p := range c.NodeImages {
		if !h.Fleet.offers(region, p.NodeImageVersion, now) {
			return false
		}
	}
	return true
}

// outcome decides how op, the member's next attempt, ends.
func (h *Host) outcome(member string, op fleetupdate.OpID) Outcome {
	n := h.attempts[member]
	h.attempts[member]++
	rng := h.rand(op)
	o := Outcome{}
	if s := h.Script[member]; n < len(s) {
		o = s[n]
	} else if h.FailureRate > 0 && rng.Float64() < h.FailureRate {
		o = failureCodes[rng.IntN(len(failureCodes))]
	}
	if o.Duration == 0 {
		o.Duration = h.Duration
		if d, ok := h.Durations[member]; ok {
			o.Duration = d
		} else if h.Jitter > 0 {
			j := int64(h.Jitter / time.Second)
			o.Duration += time.Duration(rng.Int64N(2*j+1)-j) * time.Second
		}
		o.Duration = max(o.Duration, time.Minute)
	}
	return o
}

// member returns the fleet's member named name, or nil, in O(1): the index
// is built again whenever it no longer matches Fleet.Members.
func (h *Host) member(name string) *fleetupdate.Member {
	if i, ok := h.index[name]; ok && i < len(h.Fleet.Members) && h.Fleet.Members[i].Name == name {
		return &h.Fleet.Members[i]
	}
	h.index = make(map[string]int, len(h.Fleet.Members))
	for i, m := range h.Fleet.Members {
		h.index[m.Name] = i
	}
	if i, ok := h.index[name]; ok {
		return &h.Fleet.Members[i]
	}
	return nil
}

// rand returns op's own random source: a function of the seed and the op.
func (h *Host) rand(op fleetupdate.OpID) *rand.Rand {
	f := fnv.New64a()
	f.Write([]byte(op))
	return rand.New(rand.NewPCG(h.seed, f.Sum64()^0x9e3779b97f4a7c15))
}

// Finish applies a successful upgrade to the fleet's member: its Kubernetes
// versions and node images move to the targets, so a later run sees them.
// Call it when the success is delivered; it is idempotent per Op.
func (h *Host) Finish(op fleetupdate.OpID) {
	c, ok := h.pending[op]
	if !ok {
		return
	}
	delete(h.pending, op)
	m := h.member(c.Member)
	if m == nil {
		return
	}
	h.Upgrades[c.Member]++
	if c.KubernetesVersion != "" {
		m.KubernetesVersion = c.KubernetesVersion
		if c.Type == fleetupdate.Full {
			for i := range m.NodePools {
				if m.NodePools[i].KubernetesVersion != "" {
					m.NodePools[i].KubernetesVersion = c.KubernetesVersion
				}
			}
		}
	}
	for _, pi := range c.NodeImages {
		for i := range m.NodePools {
			if m.NodePools[i].Name == pi.Pool {
				m.NodePools[i].NodeImageVersion = pi.NodeImageVersion
			}
		}
	}
}

// Approvals is a policy for approving gates: after a fixed delay, after a
// seeded random delay, or never. It applies to Approval gates only;
// ScheduledStart gates complete by themselves (a user may still complete
// one early with a CompleteGate action).
type Approvals struct {
	// Never leaves every Approval gate Pending for ever.
	Never bool
	// Delay is how long after the gate is reached it is approved; zero
	// (or less) approves it at once.
	Delay time.Duration
	// Spread adds to Delay a random delay drawn uniformly from [0, Spread],
	// to the second, from the host's seed and the gate's id alone (so not
	// from the order in which gates are reached); zero or less adds none.
	Spread time.Duration
}

// approval is a decided approval of one gate.
type approval struct {
	at time.Time
	ok bool
}

// Approve says whether and when the gate the run announced with c, at now,
// is approved (Host.Approvals). It is idempotent per gate: announcing the
// same gate again (Run.Outstanding does after a restart) returns the first
// answer. It returns false for gates that are not Approval gates.
func (h *Host) Approve(c fleetupdate.AwaitGate, now time.Time) (time.Time, bool) {
	if c.Type != fleetupdate.Approval {
		return time.Time{}, false
	}
	if a, ok := h.approved[c.Gate]; ok {
		return a.at, a.ok
	}
	if h.approved == nil {
		h.approved = map[fleetupdate.GateID]approval{}
	}
	a := approval{ok: !h.Approvals.Never}
	if a.ok {
		d := max(h.Approvals.Delay, 0)
		if s := int64(h.Approvals.Spread / time.Second); s > 0 {
			d += time.Duration(h.rand(fleetupdate.OpID("gate:"+c.Gate)).Int64N(s+1)) * time.Second
		}
		a.at = now.Add(d)
	}
	h.approved[c.Gate] = a
	return a.at, a.ok
}
