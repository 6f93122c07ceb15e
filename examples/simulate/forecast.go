package main

// -forecast: when will each member of a persisted run start and finish?
//
//	go run ./examples/simulate -horizon 30h -save run.json  # a run cut mid-flight, persisted
//	go run ./examples/simulate -forecast run.json           # its forecast, as a table
//	go run ./examples/simulate -forecast run.json -json     # as JSON (package forecast's format)
//	go run ./examples/simulate -forecast run.json -duration 45m -duration-p90 2h -runs 200  # p50 and p90
//
// -resume assumes a user starts a Stopped or Failed run again at the
// forecast's start. A forecast reuses -duration (each upgrade), -approve (at-once, after= or
// never), -horizon and -seed, and starts at -start if given, else at the
// run's clock (its last event).

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/forecast"
)

// forecastConfig holds the flags of -forecast and -save.
type forecastConfig struct {
	path        string // -forecast: the persisted run
	json        bool
	durationP90 time.Duration
	runs        int
	resume      bool
	save        string // -save: where the simulated run is persisted
}

// forecastFlags registers the flags of -forecast and -save on fs.
func forecastFlags(fs *flag.FlagSet) *forecastConfig {
	var fc forecastConfig
	fs.StringVar(&fc.path, "forecast", "", "forecast the persisted run (fleetupdate.Run JSON, e.g. from -save) in this file instead of simulating")
	fs.BoolVar(&fc.json, "json", false, "with -forecast: print the forecast as JSON")
	fs.DurationVar(&fc.durationP90, "duration-p90", 0, "with -forecast: the 90th percentile of upgrade durations (-duration is the median); gives p50 and p90 of every start and finish from -runs seeded simulations")
	fs.IntVar(&fc.runs, "runs", 100, "with -duration-p90: how many simulations to draw")
	fs.BoolVar(&fc.resume, "resume", false, "with -forecast: assume a user resumes a Stopped or Failed run at the forecast's start (failed members of its stage are tried again)")
	fs.StringVar(&fc.save, "save", "", "write the simulated run, where it ends, to this file in its persisted form (for -forecast)")
	return &fc
}

// simulateOnly are the flags that describe a simulation, not a forecast.
var simulateOnly = []string{"strategy", "sample", "fleet", "upgrade-type", "kubernetes-version", "node-image-selection", "fail", "fail-rate", "jitter", "html", "svg", "save", "members"}

// validate checks the forecast flags; set holds the flags given.
func (fc *forecastConfig) validate(c config, set map[string]bool) error {
	if fc.path == "" {
		if set["forecast"] {
			return errors.New("-forecast: want a file name")
		}
		for _, f := range []string{"json", "duration-p90", "runs", "resume"} {
			if set[f] {
				return fmt.Errorf("-%s: only with -forecast", f)
			}
		}
		return nil
	}
	for _, f := range simulateOnly {
		if set[f] {
			return fmt.Errorf("-%s: not used with -forecast (the run file says what the run is; a forecast assumes no failures)", f)
		}
	}
	switch {
	case set["duration-p90"] && fc.durationP90 <= c.duration:
		return fmt.Errorf("-duration-p90 %s: want more than -duration (%s), the median", fc.durationP90, c.duration)
	case set["runs"] && !set["duration-p90"]:
		return errors.New("-runs: only with -duration-p90 (without a spread every simulation is the same)")
	case fc.runs < 1 || fc.runs > 10000:
		return fmt.Errorf("-runs %d: want from 1 to 10000", fc.runs)
	}
	return nil
}

// run prints the forecast of the run in fc.path.
func (fc *forecastConfig) run(c config, set map[string]bool, out io.Writer) error {
	a := forecast.Assumptions{Duration: c.duration, Horizon: c.horizon, Resume: fc.resume}
	approvals, err := parseApprove(c.approve)
	if err != nil {
		return usageError{err}
	}
	switch {
	case approvals.Spread > 0:
		return usageError{fmt.Errorf("-approve %q: a forecast takes a fixed delay (after=DURATION), at-once or never", c.approve)}
	case approvals.Never:
		a.NeverApprove = true
	default:
		a.ApprovalDelay = approvals.Delay
	}
	data, err := os.ReadFile(fc.path)
	if err != nil {
		return err
	}
	var r fleetupdate.Run
	if err := decodeStrict(data, &r); err != nil {
		return fmt.Errorf("-forecast %s: %w", fc.path, err)
	}
	if r.Name() == "" {
		return fmt.Errorf("-forecast %s: the file holds no run (null)", fc.path)
	}
	now := r.Clock()
	if set["start"] || now.IsZero() {
		if now, err = time.Parse(time.RFC3339, c.start); err != nil {
			return usageError{fmt.Errorf("-start: %w", err)}
		}
		if now.Before(r.Clock()) {
			return usageError{fmt.Errorf("-start %s: the run's clock is already %s; a forecast starts then or later", c.start, r.Clock().Format(time.RFC3339))}
		}
	}
	if set["duration-p90"] {
		a.P90Factor = float64(fc.durationP90) / float64(c.duration)
		d, err := forecast.Percentiles(r, now, a, fc.runs, c.seed)
		if err != nil {
			return err
		}
		if fc.json {
			return writeJSON(out, d)
		}
		printDistribution(out, d)
		return nil
	}
	f, err := forecast.Run(r, now, a)
	if err != nil {
		return err
	}
	if fc.json {
		return writeJSON(out, f)
	}
	printForecast(out, f)
	return nil
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// saveRun writes r in its persisted form to fc.save, if set.
func (fc *forecastConfig) saveRun(r fleetupdate.Run, out io.Writer) error {
	if fc.save == "" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(fc.save, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "Run saved to %s (at %s)\n", fc.save, r.Clock().Format(time.RFC3339))
	return nil
}

// origin is the time the table counts days from: the run's start, or the
// forecast's for a run not started.
func origin(runStart, from time.Time) time.Time {
	if runStart.IsZero() || runStart.After(from) {
		return from
	}
	return runStart
}

// rowName is a row's stage, group and member columns; the run's row is
// "(run)".
func rowName(stage, group, member string) string {
	if stage == "" {
		return "(run)\t\t"
	}
	return stage + "\t" + group + "\t" + member
}

func printForecast(out io.Writer, f forecast.Forecast) {
	o := origin(f.Rows[0].Start, f.From)
	fmt.Fprintf(out, "Forecast of run %q from %s (%s), days and UTC clock since %s; earlier times are the run's record.\n", f.Run, clock(o, f.From), f.From.Format(time.RFC3339), o.Format(time.RFC3339))
	fmt.Fprintf(out, "Assumed: %s.\n\n", f.Assumptions)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tGROUP\tMEMBER\tSTART\tFINISH\tSTATE\tWHY NOT FINISHED")
	for _, r := range f.Rows {
		lines := wrap(r.Why, 100)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", rowName(r.Stage, r.Group, r.Member), clock(o, r.Start), clock(o, r.Finish), r.State, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t\t\t\t\t  %s\n", l)
		}
	}
	tw.Flush()
	run := f.Rows[0]
	switch {
	case !run.Finish.IsZero() && !run.Finish.After(f.From):
		fmt.Fprintf(out, "\nThe run had already ended %s at %s (%s): a forecast adds nothing.\n", run.State, clock(o, run.Finish), run.Finish.Format(time.RFC3339))
	case !run.Finish.IsZero():
		fmt.Fprintf(out, "\nThe run ends %s at %s (%s), %s from now.\n", run.State, clock(o, run.Finish), run.Finish.Format(time.RFC3339), formatDuration(run.Finish.Sub(f.From)))
	default:
		fmt.Fprintf(out, "\nThe run does not finish: %s\n", run.Why)
	}
}

func printDistribution(out io.Writer, d forecast.Distribution) {
	o := origin(d.Rows[0].Start.P50, d.From)
	fmt.Fprintf(out, "Forecast of run %q from %s (%s) over %d simulations (seed %d), days and UTC clock since %s.\n", d.Run, clock(o, d.From), d.From.Format(time.RFC3339), d.Simulations, d.Seed, o.Format(time.RFC3339))
	fmt.Fprintf(out, "Assumed: %s.\n", d.Assumptions)
	fmt.Fprintf(out, "p50 and p90: half and nine in ten of the simulations are this early; \"-\": later than the horizon %s.\n\n", d.Horizon.Format(time.RFC3339))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tGROUP\tMEMBER\tSTART p50\tSTART p90\tFINISH p50\tFINISH p90\tFINISHED")
	for _, r := range d.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\n", rowName(r.Stage, r.Group, r.Member), clock(o, r.Start.P50), clock(o, r.Start.P90), clock(o, r.Finish.P50), clock(o, r.Finish.P90), r.Finished, d.Simulations)
	}
	tw.Flush()
	run := d.Rows[0]
	switch {
	case !run.Finish.P90.IsZero() && !run.Finish.P90.After(d.From):
		fmt.Fprintf(out, "\nThe run had already ended at %s (%s): a forecast adds nothing.\n", clock(o, run.Finish.P90), run.Finish.P90.Format(time.RFC3339))
	case run.Finish.P50.IsZero():
		fmt.Fprintln(out, "\nThe run does not finish by the horizon in half the simulations or more.")
	case run.Finish.P90.IsZero():
		fmt.Fprintf(out, "\nThe run ends by %s in half the simulations; in more than one in ten it does not finish by the horizon.\n", clock(o, run.Finish.P50))
	default:
		fmt.Fprintf(out, "\nThe run ends by %s in half the simulations, by %s in nine of ten.\n", clock(o, run.Finish.P50), clock(o, run.Finish.P90))
	}
}
