// Package fleetrun hosts fleetkit update runs on Temporal: one workflow
// execution per run, the pure reducer fleetupdate.Step at its heart, and
// Temporal for everything a host must make durable.
//
//	w := fleetrun.NewWorker(c, fleetrun.DefaultTaskQueue, myUpgrader, worker.Options{}) // your Upgrader: the Azure SDK
//	go w.Run(worker.InterruptCh())
//	run, _ := fleetupdate.New("roll-1-30", spec, members, catalog)
//	fleetrun.Start(ctx, c, client.StartWorkflowOptions{ID: "roll-1-30"}, fleetrun.Input{Run: run, Start: true})
//	fleetrun.Send(ctx, c, "roll-1-30", fleetupdate.CompleteGate{Gate: id}) // refused actions return Step's error
//	fleetrun.Status(ctx, c, "roll-1-30")
//
// # How the host contract maps onto Temporal
//
// The workflow keeps the Run in memory and steps it; Temporal's history is
// the journal (contract rule 1: every accepted event is an Update, an
// activity result or a timer in the history, so a replay rebuilds the run).
//
//   - UpgradeMember becomes an activity (ActivityName), with the op id as its
//     activity id, running an Upgrader that users implement against the Azure
//     SDK (FakeUpgrader stands in for tests and demos). Its result comes back
//     as UpgradeSucceeded or UpgradeFailed: an *UpgradeError carries the AKS
//     code and is not retried unless marked Retryable; any other error is
//     retried under Config.Retry; when retries run out, the last error's code
//     reaches the run, which then applies its own semantics (fail-fast,
//     Pending for NodeImageVersionNotAvailable).
//   - WakeAt becomes a durable timer, one per distinct wake-up time: every wake
//     owed is armed, not just the next, and a fired timer delivers a Tick.
//   - AwaitGate becomes an activity (GateActivityName) that tells approvers
//     through an Upgrader that is also a GateNotifier; the gate shows Pending
//     in the status, with its gateId, either way.
//   - User actions and changed facts (Start, Stop, Skip, CompleteGate,
//     MemberChanged, CatalogChanged) arrive as one Temporal Update,
//     UpdateName, whose argument is an Event in fleetkit's wire format
//     (fleetupdate.MarshalEvent). Its validator runs Step on the current run,
//     so a refused action (an unknown skip target, a gate not reached yet) is
//     rejected with Step's error, and leaves no trace in the history, instead
//     of vanishing as a signal would. The workflow stamps each action with
//     its own clock. A new kind of action is one more case in userAction.
//   - QueryStatus returns the Azure-shaped status tree; for runs of more than
//     Config.FullStatusMembers members it returns Run.Overview (stages and
//     groups without members) so the answer stays small, and QueryMember
//     returns one member's status.
//
// # Bounded history
//
// After Config.MaxEvents accepted events, or when the server suggests it
// (by default at 4,096 history events), the execution continues as new with
// the run as its input. Measured on a real server, an accepted event costs
// about four history events, 200 bytes each. Upgrades may be in flight at that moment. The
// workflow drains rather than hands them over: from then on it starts no new
// activity (the run still records the upgrades it starts, as in flight),
// waits for the activities it already started to report, applies their
// results, and only then continues as new. The new execution performs
// Run.Outstanding: every upgrade still in flight is one this execution never
// started, so none is sent twice, and every wake-up still owed is armed
// again. Handing running activities over instead (activities that report to
// the workflow id by signal, or an upgrade per child workflow) would avoid the
// pause but loses Temporal's retries and timeouts for the abandoned activity,
// or adds a workflow and a signal per upgrade; the drain costs at most one
// upgrade's duration of reduced concurrency per MaxEvents events.
//
// The run itself travels in Input, gzip-compressed inside its JSON: a
// 10,000-member run is about 7.5 MB as JSON and about 0.2 MB compressed,
// well inside Temporal's 2 MB payload limit, with any data converter.
// Decoding it costs about half a second of CPU at that size, so NewWorker
// raises the worker's deadlock-detection timeout (worker.Options).
//
// # Versioning
//
// A workflow's history is valid only for the reducer that wrote it. Workers
// poll TaskQueue(base), which names fleetupdate.SemanticsVersion, so runs
// started on one semantics version stay on workers of that version (a
// continue-as-new keeps its task queue); and the workflow records the version
// with workflow.GetVersion, so a worker of another version that picks up the
// task fails it (Temporal retries it) rather than replaying it wrongly.
// Recorded histories in testdata replay in CI, so a reducer change that
// alters Step's commands without bumping SemanticsVersion fails the build.
package fleetrun
