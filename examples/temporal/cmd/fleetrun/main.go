// Command fleetrun runs fleetkit update runs on Temporal: a worker that
// hosts them, and a small CLI to start, skip, stop, resume and watch them.
//
//	fleetrun worker                      # a worker; upgrades by a fake Upgrader
//	fleetrun start -id roll-1            # the shipped 3-stage sample over 12 clusters; prod waits for approve
//	fleetrun start -id roll-2 -strategy stages.json -fleet fleet.json -kubernetes-version 1.30
//	fleetrun status -id roll-1           # or -member canary-00, or -json
//	fleetrun skip -id roll-1 -member prod-eu-02 -group dev -stage staging -wait canary
//	fleetrun stop -id roll-1
//	fleetrun resume -id roll-1           # Start on a Stopped or Failed run
//	fleetrun approve -id roll-1 -gate roll-1/production/Before/0
//
// Every subcommand takes -address (default localhost:7233), -namespace
// (default "default") and -task-queue (the base name; the semantics version
// is appended). The strategy file is Azure's UpdateRunStrategy JSON (what
// `az fleet updaterun create --stages` takes); the fleet file is fake.Fleet
// JSON, as examples/simulate reads it: members, and what each region offers
// (the run's catalog is what it offers now). The worker upgrades with
// fleetrun.FakeUpgrader; a real deployment builds its own worker with
// fleetrun.NewWorker and an Upgrader over the Azure SDK.
package main

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/fleetkit/fleetkit/examples/temporal/fleetrun"
	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

//go:embed testdata/strategy.json
var sampleStrategy []byte

//go:embed testdata/fleet.json
var sampleFleet []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleetrun:", err)
		os.Exit(1)
	}
}

const usage = `usage: fleetrun <command> [flags]

commands:
  worker    run a worker (upgrades by a fake Upgrader)
  start     start a run from a strategy and a fleet
  status    show a run's status, or one member's
  skip      skip members, groups, stages or after-stage waits
  stop      stop a run (upgrades in flight finish)
  resume    start a Stopped or Failed run again
  approve   complete a gate (approve it)

"fleetrun <command> -h" lists the command's flags.`

// run runs one subcommand; the worker runs until ctx is done.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(out, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("fleetrun "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	address := fs.String("address", client.DefaultHostPort, "Temporal frontend host:port")
	namespace := fs.String("namespace", client.DefaultNamespace, "Temporal namespace")
	queue := fs.String("task-queue", fleetrun.DefaultTaskQueue, "task queue base name (the semantics version is appended)")
	id := new(string)
	if cmd != "worker" {
		id = fs.String("id", "", "the run's workflow id (start: also the run's name)")
	}
	dial := func() (client.Client, error) {
		if fs.NArg() > 0 {
			return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
		}
		if cmd != "worker" && *id == "" {
			return nil, errors.New("-id is required")
		}
		return client.Dial(client.Options{HostPort: *address, Namespace: *namespace, Logger: quiet{}})
	}

	switch cmd {
	case "worker":
		delay := fs.Duration("delay", 2*time.Second, "how long each fake upgrade takes")
		if err := fs.Parse(args); err != nil {
			return err
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		w := fleetrun.NewWorker(c, *queue, &fleetrun.FakeUpgrader{Delay: *delay}, worker.Options{})
		fmt.Fprintf(out, "worker on task queue %s at %s\n", fleetrun.TaskQueue(*queue), *address)
		return w.Run(ctxInterrupt(ctx))

	case "start":
		var o startFlags
		o.register(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		r, cfg, err := o.newRun(*id, time.Now())
		if err != nil {
			return err
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		wr, err := fleetrun.Start(ctx, c, client.StartWorkflowOptions{ID: *id, TaskQueue: fleetrun.TaskQueue(*queue)},
			fleetrun.Input{Run: r, Config: cfg, Start: !o.noStart})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "started run %s (workflow %s, execution %s)\n", *id, wr.GetID(), wr.GetRunID())
		if !o.wait {
			return nil
		}
		var s fleetupdate.Status
		if err := wr.Get(ctx, &s); err != nil {
			return err
		}
		printStatus(out, *id, s)
		return nil

	case "status":
		member := fs.String("member", "", "show only this member")
		asJSON := fs.Bool("json", false, "print Azure's UpdateRunStatus JSON")
		if err := fs.Parse(args); err != nil {
			return err
		}
		c, err := dial()
		if err != nil {
			return err
		}
		defer c.Close()
		var v any
		if *member != "" {
			m, err := fleetrun.Member(ctx, c, *id, *member)
			if err != nil {
				return err
			}
			v = m
			if !*asJSON {
				printMember(out, m)
				return nil
			}
		} else {
			s, err := fleetrun.Status(ctx, c, *id)
			if err != nil {
				return err
			}
			v = s
			if !*asJSON {
				printStatus(out, *id, s)
				return nil
			}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)

	case "skip":
		var targets []fleetupdate.SkipTarget
		for _, f := range []struct {
			name, usage string
			typ         fleetupdate.TargetType
		}{
			{"member", "members to skip, comma-separated", fleetupdate.TargetMember},
			{"group", "groups to skip, comma-separated", fleetupdate.TargetGroup},
			{"stage", "stages to skip, comma-separated", fleetupdate.TargetStage},
			{"wait", "stages whose after-stage wait to skip, comma-separated", fleetupdate.TargetAfterStageWait},
		} {
			fs.Func(f.name, f.usage, func(v string) error {
				for _, n := range strings.Split(v, ",") {
					if n = strings.TrimSpace(n); n != "" {
						targets = append(targets, fleetupdate.SkipTarget{Type: f.typ, Name: n})
					}
				}
				return nil
			})
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		if len(targets) == 0 {
			return errors.New("skip: name at least one -member, -group, -stage or -wait")
		}
		return send(ctx, dial, out, *id, fleetupdate.Skip{Targets: targets})

	case "stop", "resume":
		if err := fs.Parse(args); err != nil {
			return err
		}
		var e fleetupdate.Event = fleetupdate.Stop{}
		if cmd == "resume" {
			e = fleetupdate.Start{}
		}
		return send(ctx, dial, out, *id, e)

	case "approve":
		gate := fs.String("gate", "", "the gate's id, as status shows it")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *gate == "" {
			return errors.New("approve: -gate is required")
		}
		return send(ctx, dial, out, *id, fleetupdate.CompleteGate{Gate: fleetupdate.GateID(*gate)})
	}
	fmt.Fprintln(out, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// startFlags are the flags of start: the run's inputs and its Config.
type startFlags struct {
	strategy, fleet   string
	upgradeType       string
	kubernetesVersion string
	selection         string
	maxEvents         int
	noStart, wait     bool
}

func (o *startFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.strategy, "strategy", "", "Azure UpdateRunStrategy JSON file (default: the shipped 3-stage sample)")
	fs.StringVar(&o.fleet, "fleet", "", "fleet JSON file, as examples/simulate reads (default: the shipped 12-cluster sample)")
	fs.StringVar(&o.upgradeType, "upgrade-type", "ControlPlaneOnly", "Full, ControlPlaneOnly or NodeImageOnly")
	fs.StringVar(&o.kubernetesVersion, "kubernetes-version", "1.30", "target Kubernetes version (not for NodeImageOnly)")
	fs.StringVar(&o.selection, "node-image-selection", "Latest", "Latest or Consistent (not for ControlPlaneOnly)")
	fs.IntVar(&o.maxEvents, "max-events", 0, "events per workflow execution before it continues as new (0: the default)")
	fs.BoolVar(&o.noStart, "no-start", false, "create the run without starting it (start it with resume)")
	fs.BoolVar(&o.wait, "wait", false, "wait until the run has completed and print its status")
}

// newRun reads the strategy and the fleet and makes the run, named name,
// with the catalog the fleet offers at now.
func (o *startFlags) newRun(name string, now time.Time) (fleetupdate.Run, fleetrun.Config, error) {
	strategyJSON, fleetJSON := sampleStrategy, sampleFleet
	var err error
	if o.strategy != "" {
		if strategyJSON, err = os.ReadFile(o.strategy); err != nil {
			return fleetupdate.Run{}, fleetrun.Config{}, err
		}
	}
	if o.fleet != "" {
		if fleetJSON, err = os.ReadFile(o.fleet); err != nil {
			return fleetupdate.Run{}, fleetrun.Config{}, err
		}
	}
	var strategy fleetupdate.Strategy
	if err := json.Unmarshal(strategyJSON, &strategy); err != nil {
		return fleetupdate.Run{}, fleetrun.Config{}, fmt.Errorf("strategy: %w", err)
	}
	var fleet fake.Fleet
	if err := json.Unmarshal(fleetJSON, &fleet); err != nil {
		return fleetupdate.Run{}, fleetrun.Config{}, fmt.Errorf("fleet: %w", err)
	}
	if err := fleet.Validate(); err != nil {
		return fleetupdate.Run{}, fleetrun.Config{}, err
	}
	spec := fleetupdate.Spec{Strategy: &strategy}
	spec.ManagedClusterUpdate.Upgrade.Type = fleetupdate.UpgradeType(o.upgradeType)
	if spec.ManagedClusterUpdate.Upgrade.Type != fleetupdate.NodeImageOnly {
		spec.ManagedClusterUpdate.Upgrade.KubernetesVersion = o.kubernetesVersion
	}
	if spec.ManagedClusterUpdate.Upgrade.Type != fleetupdate.ControlPlaneOnly {
		spec.ManagedClusterUpdate.NodeImageSelection = &fleetupdate.NodeImageSelection{Type: fleetupdate.NodeImageSelectionType(o.selection)}
	}
	r, err := fleetupdate.New(name, spec, fleet.Members, fleet.CatalogAt(now))
	return r, fleetrun.Config{MaxEvents: o.maxEvents}, err
}

// send applies one action and prints the run's overview after it.
func send(ctx context.Context, dial func() (client.Client, error), out io.Writer, id string, e fleetupdate.Event) error {
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := fleetrun.Send(ctx, c, id, e)
	if err != nil {
		return err
	}
	printStatus(out, id, s)
	return nil
}

// printStatus prints a status tree as an indented table, gates with their
// ids; an overview (no members) prints stages, groups and gates only.
func printStatus(out io.Writer, id string, s fleetupdate.Status) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(indent, kind, name string, st fleetupdate.UpdateStatus, msg string) {
		if st.Error != nil {
			msg = strings.TrimSpace(st.Error.Code + ": " + st.Error.Message + " " + msg)
		}
		fmt.Fprintf(tw, "%s%s %s\t%s\t%s\n", indent, kind, name, st.State, msg)
	}
	gates := func(indent string, gs []fleetupdate.GateStatus) {
		for _, g := range gs {
			row(indent, "gate", cmp.Or(g.DisplayName, "(unnamed)"), g.Status, string(g.GateID))
		}
	}
	row("", "run", id, s.Status, "")
	for _, st := range s.Stages {
		row("  ", "stage", st.Name, st.Status, "")
		gates("    ", st.BeforeGates)
		for _, g := range st.Groups {
			row("    ", "group", g.Name, g.Status, "")
			gates("      ", g.BeforeGates)
			for _, m := range g.Members {
				row("      ", "member", m.Name, m.Status, m.Message)
			}
			gates("      ", g.AfterGates)
		}
		gates("    ", st.AfterGates)
		if w := st.AfterStageWaitStatus; w != nil {
			row("    ", "wait", fmt.Sprintf("%ds", w.WaitDurationInSeconds), w.Status, "")
		}
	}
	tw.Flush()
}

func printMember(out io.Writer, m fleetupdate.MemberStatus) {
	fmt.Fprintf(out, "member %s: %s", m.Name, m.Status.State)
	if m.OperationID != "" {
		fmt.Fprintf(out, " (operation %s)", m.OperationID)
	}
	if m.Status.Error != nil {
		fmt.Fprintf(out, " %s: %s", m.Status.Error.Code, m.Status.Error.Message)
	}
	if m.Message != "" {
		fmt.Fprintf(out, " — %s", m.Message)
	}
	fmt.Fprintln(out)
}

// ctxInterrupt returns a channel that is closed when ctx is done, for
// worker.Run.
func ctxInterrupt(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

// quiet is a Temporal client logger that drops everything but errors.
type quiet struct{}

// Debug drops the line.
func (quiet) Debug(string, ...any) {}

// Info drops the line.
func (quiet) Info(string, ...any) {}

// Warn drops the line.
func (quiet) Warn(string, ...any) {}

// Error prints the line on standard error.
func (quiet) Error(msg string, kv ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"temporal:", msg}, kv...)...)
}
