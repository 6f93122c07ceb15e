// Package fleetupdate is a pure state machine for Azure Kubernetes Fleet
// Manager update runs: stages run one after another, groups inside a stage
// in parallel, members inside a group one at a time or up to a concurrency
// limit, each member started only inside its maintenance window.
//
//	run, err := fleetupdate.New(name, spec, members, catalog) // validates; everything NotStarted
//	run, cmds, err := fleetupdate.Step(run, event)            // pure: same inputs, same outputs
//	status := run.Status()                                    // Azure's UpdateRunStatus
//
// Step reads no clock, does no I/O and never changes the Run it is given;
// versions share structure, so a step costs O(1) plus the work the event
// causes, however large the fleet: it copies the records it changes and
// adds one entry to each changed member's and group's history (in
// BenchmarkFloor's one-by-one fleet, about 730 bytes and 6 allocations per
// event that finishes one member and starts the next, the command and the
// benchmark host's own included). Every version stays readable; the newest
// version of a run is the one its next step extends in place. Stepping any
// other (a run stepped already, or two steps of one run at once) first
// copies its member and group vectors, O(members), once. A pick inside a
// group costs O(log distinct maintenance windows in the group) plus the
// buckets it marks or clears, and each window's next opening is recomputed
// once per occurrence that reaches the front of the group's order (so with
// a window per member, a long run recomputes each window about once per
// occurrence). New builds each group's picking index (derived state, never
// saved), and the group's first pick computes each of its windows' next
// opening at once, O(distinct windows); stepping a Run that has already
// been stepped, or one just decoded, costs O(group size) once per group it
// picks in, to build one of its own. Time comes in on every event.
//
// # Host contract
//
// A host owns every side effect. It must:
//
//  1. Make each step durable before performing its commands: append the accepted
//     event to a journal (a run is a deterministic function of its inputs and
//     its events; package journal does this), or save the whole Run
//     (json.Marshal). Journaling costs O(event); saving the whole run costs
//     O(fleet) per event and does not scale. Refused events change nothing and
//     need not be kept.
//  2. Perform each command. UpgradeMember is idempotent per Op: after a crash it may be sent again.
//  3. Report each outcome (UpgradeSucceeded, UpgradeFailed) as an event stamped with the host's
//     current time, in the order observed.
//  4. Deliver a Tick at (or after) each WakeAt. Extra or early ticks are harmless, so a host may
//     instead keep one timer and re-arm it at Run.NextWake after every step.
//  5. After a restart, rebuild the Run (Replay of the journal, or the saved Run) and perform
//     Run.Outstanding: every upgrade in flight, every gate still Pending (AwaitGate) and every
//     wake-up still owed. A host that does
//     finishes exactly as one that never stopped: the same statuses, the same upgrades with the
//     same op ids.
//
// A complete host loop; persist, upgrade, timers and results are the
// host's own:
//
//	run, err := fleetupdate.New("roll-1-30", spec, members, catalog) // validates; all NotStarted
//	if err != nil { return err }
//	ev := fleetupdate.Event(fleetupdate.Start{At: clock.Now()})
//	for {
//		next, cmds, err := fleetupdate.Step(run, ev) // pure; an error leaves run unchanged
//		if err != nil {
//			log.Print(err) // refused (a stale op, a bad skip): wait for the next event
//		} else {
//			run = next
//			if err := persist(ev); err != nil { return err } // 1. durable before acting
//			for _, c := range cmds {
//				switch c := c.(type) {
//				case fleetupdate.UpgradeMember:
//					go upgrade(c, results) // 2. idempotent per c.Op; reports on results
//				case fleetupdate.WakeAt:
//					timers.At(c.At, results) // 4. a Tick at c.At, on results
//				case fleetupdate.AwaitGate:
//					notify(c) // ask for an approval; it comes back as a CompleteGate event
//				}
//			}
//		}
//		if run.Done() { break } // Completed or Skipped; or Failed or Stopped until a user starts it again
//		ev = <-results // 3. outcomes and ticks, stamped with the host's time
//	}
//
// # Persisted form
//
// json.Marshal of a Run writes a versioned public format (schemaVersion 2)
// that outlives the code that wrote it; json.Unmarshal reads it back into a
// run that behaves identically. It holds the inputs of New, then the state:
//
//	{"schemaVersion": 2, "name": …, "spec": {…Azure JSON…},
//	 "members": [the run's members as given to New, sorted by name],
//	 "catalog": {the current catalog},
//	 "state": {
//	   "clock", "phase" (the run's phase: NotStarted, Running, Stopping, Stopped,
//	     Failed, Completed, Skipped — Running shows as Pending in Status),
//	   "startTime", "endTime", "error": {"code", "message"} (while failing),
//	   "wakes": [every wake-up asked for and not yet seen],
//	   "selection": [Consistent images], "unresolved": [{"member", "reason"}],
//	   "stages": [{"name", "phase": NotStarted|Before|Groups|Waiting|Done
//	     (Before: its before-gates; Waiting: its after-gates and wait), "starved",
//	     "skipped", "waitSkipped", "startTime", "endTime", "waitEnd"}],
//	   "gates": [{"gateId", "state": NotStarted|Pending|Completed|Skipped,
//	     "startTime", "endTime", "startAt" (ScheduledStart)}] (in plan order),
//	   "groups": [{"name", "skipped", "startTime", "endTime",
//	     "windows": [{"window", "reached", "opening"}] (the group's distinct
//	     maintenance windows in the order the run met them)}],
//	   "members": [{"name", "state", "data" (only when changed since New),
//	     "waitCatalog", "removed", "attempt", "pinned": {"kubernetesVersion",
//	     "nodeImages"} (the inputs of the first attempt), "note", "message",
//	     "startTime", "endTime", "error"}]}}
//
// Nothing derived is stored: counters, the active stage, the upgrades in
// flight, op ids ("<run>/<member>/<attempt>") and each member's place in its
// window's queue are computed again. Decoding checks everything as strictly
// as New checks its inputs — unknown fields, references, names in plan order,
// member data, each member's state against its stage's and the run's — and
// refuses, with an error wrapping ErrInvalidEncoding that names the field,
// any state no sequence of events could produce. Schema version 1 (the first
// release) is still read, converted and checked the same way; an unknown
// version is refused with ErrUnsupportedVersion.
//
// Events and commands have a wire format of their own for journals, queues
// and workflow engines: MarshalEvent, UnmarshalEvent, MarshalCommand and
// UnmarshalCommand write and read one JSON object tagged by "type", and Replay
// rebuilds a run from its start and its journal. The events a journal holds
// most (Start, Stop, Tick, the outcomes and CompleteGate) are written and read
// by hand, about ten times faster than through encoding/json; anything else
// takes encoding/json's path, with the same bytes, values and errors.
//
// # Semantics
//
// Where Azure's documentation is silent or contradicts itself, fleetkit
// decides as follows (each rule has a test named for it):
//
//   - No strategy: one stage ("default") and one group ("default") holding every
//     member, one at a time. With a strategy, a member no group selects (by name or
//     by label) is not in the run. Membership is fixed at New: members that appear
//     later are ignored, and changes to a member's group or labels are not followed.
//   - Concurrency: a group's maxConcurrency defaults to 1, a stage's to 50; "P%"
//     is of the group's (stage's) members, rounded down, at least 1; a group's limit
//     is capped by its size and by its stage's.
//   - Within a group the next member is chosen at each pick in the planner's order:
//     window open now, opening within 4 hours, no window, closed; then earliest
//     opening, then name. A member reached while its window is closed shows Pending
//     ("maintenance window is not open; next opening …"), the run tries the next
//     one and asks for a WakeAt at the opening. A window gates only the start of an
//     upgrade. Full and ControlPlaneOnly use the member's AutoUpgradeWindow,
//     NodeImageOnly its NodeOSUpgradeWindow.
//   - A target Kubernetes version or node image the member's region does not offer
//     makes the member Pending with a message naming version and region, and so
//     does an UpgradeFailed with code NodeImageVersionNotAvailable. Status shows the
//     reason as the member's error too, as Azure does (code
//     NodeImageVersionNotAvailable, or fleetkit's KubernetesVersionNotAvailable). It
//     is eligible again after CatalogChanged or MemberChanged.
//   - A minor-only target ("1.30") resolves to the newest patch the member's region
//     offers when the member is reached.
//   - Node images: Latest is the newest in the member's region when its upgrade
//     starts; Consistent is resolved at New (Status shows it), resolved again and
//     pinned at the first Start, never after; Custom picks per family. Status shows
//     the selected versions under Consistent and Custom. Pools already
//     at or ahead of their target are left alone and named in the member's message.
//     Under Consistent, a member with a pool that has no target is Skipped; under
//     Latest, a pool whose family its region does not offer at all is left alone.
//   - A member already at target (Kubernetes version for Full and ControlPlaneOnly,
//     and every pool's image for Full and NodeImageOnly) is Skipped with why. An
//     upgrade that skips a minor version (unless the member is on AKS long-term
//     support, Member.LongTermSupport: AKS lets LTS clusters jump minors), or a
//     ControlPlaneOnly upgrade that would leave a node pool too far behind, makes the
//     member Failed with code UpgradeNotAllowed.
//   - Failure budgets (Azure's maxAllowedFailures, read literally): each stage and
//     group tolerates "N" failed members, or "P%" of its members rounded up
//     (Azure: resolvedThreshold = ceil(p * N)), resolved at New; unset is 0. A
//     scope's failureCount is its members whose latest attempt failed; a group's
//     count is its own, a stage's the sum of its groups'. Within budget the member is
//     Failed and its group carries on; a group can end Completed with every member
//     Failed. A group without its own value tolerates 0, whatever its stage allows.
//   - A group or stage over its budget is Failed, and so is the run, as with
//     fail-fast (budget 0): nothing new starts; members in flight finish and are
//     recorded, the run showing Stopping until they have; the run's error names the
//     scope that went over and the member that took it there.
//   - Stop: no new work; the run and the in-flight members show Stopping until they
//     report, then Stopped. Start on Stopped or Failed resumes where the run was;
//     Failed members of the current stage are tried again with the inputs of their
//     first attempt.
//   - Skip (while NotStarted, Running, Pending, Stopped or Failed): a member not in
//     flight and not completed; a group or stage (everything in it not yet started;
//     in-flight members finish); an after-stage wait, named by its stage. All targets
//     are checked before any is applied.
//   - MemberChanged with Removed skips a member that has not started ("member left
//     the fleet"); without it, it replaces the member's data for upgrades not yet
//     started (a changed window moves the member to that window's queue).
//   - Completed and Skipped runs are final: Start, Stop and Skip on them are errors;
//     ticks and changed facts are accepted and change nothing.
//   - Input is Azure's JSON, read strictly: an unknown field at any level is refused,
//     every Azure int32 is bounded, and an error names its field once by path
//     ("strategy.stages[0].groups[1].maxConcurrency …"). Read-only fields Azure
//     returns (status, provisioningState, autoUpgradeProfileId) are ignored.
//   - updateStrategyId is kept next to the inline strategy it was copied from and
//     shown by Run.Spec; the inline strategy is what runs (Azure snapshots the
//     strategy into the run). Given alone it is refused: fleetkit fetches nothing.
//   - Gates (Azure's Approval and ScheduledStart). A stage's before-gates are
//     reached when the stage would start, and its groups start when all are
//     Completed; a group's before-gates when its stage starts its groups, holding
//     only that group; a group's after-gates when every member has finished, and the
//     group (so its stage) is not done until they are Completed; a stage's
//     after-gates when all its groups are done, together with its after-stage wait,
//     and the next stage starts when both are. Reaching a gate makes it Pending and
//     emits AwaitGate; the group or stage, and the run, show Pending.
//   - CompleteGate completes a Pending gate, also while the run is Stopped; on a
//     Completed gate it changes nothing; on a gate not reached yet (no
//     pre-approval), a Skipped gate or an unknown id it is refused. Skipping a group
//     or stage skips its gates; gates keep their state across Stop and Start.
//   - ScheduledStart (before a stage or group only): when reached it waits for the
//     next startDay at startTime in utcOffset at or after that moment (a time
//     already passed that day waits a week), asks for a WakeAt there and completes
//     itself on the Tick, or earlier by CompleteGate.
//   - Member selectors (memberSelector.byLabel, Kubernetes label-selector syntax
//     over Member.Labels: =, ==, !=, in, notin, exists, ! for not exists, comma
//     for and). On a group the selector replaces matching Member.Group with the
//     group's name; on a stage with groups it pre-filters them; on a stage without
//     groups the members it selects form one implicit group named after the stage,
//     which the stage's maxConcurrency and maxAllowedFailures govern. Selection is
//     resolved at New; a member two groups select is refused there, naming both.
package fleetupdate
