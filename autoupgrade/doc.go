// Package autoupgrade evaluates Azure Kubernetes Fleet Manager auto-upgrade
// profiles: given a profile, the fleet's members, what AKS offers now and
// what earlier generated runs did, Plan says which update runs to create and
// start now, each a fleetupdate.Spec with its members and a deterministic name.
//
//	profile, err := autoupgrade.ParseProfile(azureJSON) // Azure's AutoUpgradeProfile, read strictly
//	ev, err := autoupgrade.Plan(profile, members, releases, history)
//	for _, g := range ev.Runs {
//		run, err := g.New(releases.Catalog()) // then Start it, and record it:
//		history = append(history, g.Record(run))
//	}
//
// Plan is pure: it reads no clock, does no I/O, and the same inputs give the
// same runs with the same names. A host evaluates each profile on a cadence
// (and whenever AKS releases something), creates and starts the runs, and
// keeps the History up to date from its runs (GeneratedRun.Record).
//
// # Channels
//
// Stable targets the newest GA patch of minor N-1, Rapid of minor N, and
// TargetKubernetesVersion of the minor the profile names, where N is the
// newest minor GA in every region of the profile's members; their runs are
// Full (or, chained, ControlPlaneOnly then NodeImageOnly). NodeImage targets
// the newest node images common to every region of the profile's members,
// and SecurityPatch the same for Linux pools only; their runs are
// NodeImageOnly.
//
// # Semantics
//
// Where Azure's documentation is silent, fleetkit decides as follows (each
// rule has a test named for it):
//
//   - Reconcile, not react (Azure/AKS#5741): every evaluation includes every
//     member behind its channel's target, whatever happened to it before:
//     a profile created after a release acts at once, and members that were
//     Pending, Failed or Skipped in an earlier run are caught up.
//   - A version counts once it is GA in every region the profile's members
//     are in (AKS rolls a release out region by region, over up to two
//     weeks): the fleet moves to one version, as with Consistent node images,
//     and no run sits Pending for a region. A member in a region AKS's
//     releases do not list is left out (UnknownRegion).
//   - AKS's support window is the three newest GA minors N-2, N-1 and N (and
//     anything newer); AKS's "platform support" for N-3 counts as outside.
//     A cluster on the LTS support plan (Member.LongTermSupport) is inside
//     on a minor AKS flags as LTS. Outside members are left out, in every
//     channel.
//   - One minor at a time for every channel, LTS included (fleetupdate
//     refuses minor skips for all clusters): members further behind are left
//     out (MinorVersionSkip) with the version to reach first.
//   - A member is in at most one unfinished run, of any profile: an
//     unfinished run (NotStarted, Running, Pending, Stopping, or Stopped,
//     which a user paused) holds the members not yet Completed, Skipped or
//     Failed in it; they are left out (InRun) until it is done. A Failed run
//     holds nobody: its members are caught up by the next evaluation. Nor
//     does a run hold a member it waits for in vain, not started while AKS
//     has withdrawn the run's Kubernetes version from the member's region:
//     Plan reports it (Evaluation.Stale) for the host to skip there.
//   - A member whose latest attempt under the profile failed is retried in a
//     run of its own, so that a cluster that keeps failing (a stopped one,
//     Azure/AKS#5655) cannot fail the run of everyone else. The host's
//     evaluation cadence is its retry rate.
//   - Names: <profile>-<label>-<hash>, the hash of the upgrade specification
//     (profile, channel, managedClusterUpdate, and the target node images for
//     node image channels), the label its version ("1-30-5", "1-30-5-cp",
//     "1-30-5-nodes") or kind ("nodes", "security"); the profile's name is
//     shortened to keep Azure's 50 characters. A name already in the history
//     is never reused: a catch-up run of the same specification is
//     <name>-2, -3, …. A host that finds a generated name taken records the
//     existing run and evaluates again.
//   - A generated run's strategy is the profile's, less the stages and groups
//     that hold none of its members: a catch-up run does not sit through the
//     waits of stages whose members are done.
//   - Node image channels resolve Consistent over every member the profile
//     reaches, so the target is offered in all their regions; a run over a
//     subset may select newer images, never older. NodeImage runs use
//     Consistent; SecurityPatch runs use Custom with the Linux families only,
//     which leaves Windows pools alone. A member with a pool that has no
//     common image is left out (NoConsistentNodeImage): a Consistent run
//     would skip it every time.
//   - Chaining (ChainNodeImageUpgrade, Azure/AKS#5765): Kubernetes upgrades
//     run as ControlPlaneOnly; once such a run is done (Completed, Failed or
//     Skipped), its Completed members get a NodeImageOnly run with the
//     profile's node image selection. Only a member's latest control-plane
//     upgrade is followed. NodeImageOnly leaves node pools' Kubernetes
//     versions where they are, so members whose pools a ControlPlaneOnly
//     upgrade would leave too far behind are left out (NodePoolSkew).
//   - Disabled generates nothing, chained runs included; runs already
//     generated are left alone.
//   - A profile naming updateStrategyId carries the strategy's stages in
//     strategy as well: Plan cannot fetch it. nodeImageSelection is refused
//     on SecurityPatch as on NodeImage.
package autoupgrade
