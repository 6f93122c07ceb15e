// Command simulate runs an Azure Fleet update run over a simulated fleet on
// virtual time and prints what happened: a timeline of every member and a
// summary. With -html or -svg it also draws a Gantt chart.
//
//	go run ./examples/simulate                              # the shipped samples
//	go run ./examples/simulate -html run.html               # and a chart to open in a browser
//	go run ./examples/simulate -sample gated -approve after=2h # gates, failure budgets, label selectors
//	go run ./examples/simulate -strategy my-stages.json -fleet my-fleet.json \
//	    -upgrade-type NodeImageOnly -node-image-selection Latest -fail prod-eu-03 -seed 7
//
// The strategy file is Azure's UpdateRunStrategy JSON (what `az fleet
// updaterun create --stages` takes); the fleet file is fake.Fleet JSON. Both
// are read strictly (unknown fields are refused), and a malformed file is
// reported by line and column.
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
)

//go:embed testdata/strategy.json
var sampleStrategy []byte

//go:embed testdata/gated.json
var gatedStrategy []byte

//go:embed testdata/fleet.json
var sampleFleet []byte

func main() { os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr)) }

// realMain runs the command and returns its exit code: 0 also for -h,
// which prints the usage (asking for it is no failure), 2 for a bad flag
// and 1 for any other error.
func realMain(args []string, stdout, stderr io.Writer) int {
	err := run(args, stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintln(stderr, "simulate:", err)
		return 2
	}
	fmt.Fprintln(stderr, "simulate:", err)
	return 1
}

// usageError is a flag or argument the command cannot use.
type usageError struct{ error }

type config struct {
	strategy, fleet   string
	sample, approve   string
	upgradeType       string
	kubernetesVersion string
	selection         string
	fail              string
	failRate          float64
	members           int
	seed              uint64
	start             string
	duration, jitter  time.Duration
	horizon           time.Duration
	html, svg         string
}

func run(args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.strategy, "strategy", "", "Azure UpdateRunStrategy JSON file (default: the shipped sample -sample names)")
	fs.StringVar(&c.sample, "sample", "basic", "shipped strategy: basic (3 stages by group name) or gated (approval and scheduled-start gates, failure budgets, label selectors)")
	fs.StringVar(&c.approve, "approve", "at-once", "how approval gates are approved: at-once, after=DURATION (e.g. after=2h), within=DURATION (a seeded random delay up to it) or never")
	fs.StringVar(&c.fleet, "fleet", "", "fleet description JSON file (default: the shipped 40-cluster sample)")
	fs.IntVar(&c.members, "members", 0, "resize the fleet to this many members, copying its members group by group (e.g. 400 to see a big fleet)")
	fs.StringVar(&c.upgradeType, "upgrade-type", "Full", "Full, ControlPlaneOnly or NodeImageOnly")
	fs.StringVar(&c.kubernetesVersion, "kubernetes-version", "1.30", "target Kubernetes version (not for NodeImageOnly)")
	fs.StringVar(&c.selection, "node-image-selection", "Consistent", "Latest or Consistent (not for ControlPlaneOnly)")
	fs.StringVar(&c.fail, "fail", "", "comma-separated members whose first upgrade attempt fails")
	fs.Float64Var(&c.failRate, "fail-rate", 0, "chance from 0 to 1 that any attempt fails with an AKS-like error")
	fs.Uint64Var(&c.seed, "seed", 1, "seed for durations and failures")
	fs.StringVar(&c.start, "start", "2026-03-02T00:00:00Z", "virtual start time, RFC 3339")
	fs.DurationVar(&c.duration, "duration", 45*time.Minute, "typical duration of one cluster upgrade")
	fs.DurationVar(&c.jitter, "jitter", 15*time.Minute, "upgrade durations vary by up to this much")
	fs.DurationVar(&c.horizon, "horizon", 120*24*time.Hour, "stop simulating after this much virtual time")
	fs.StringVar(&c.html, "html", "", "write a Gantt chart of the run to this HTML file")
	fs.StringVar(&c.svg, "svg", "", "write a Gantt chart of the run to this SVG file")
	fc := forecastFlags(fs)
	retry := retryFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["jitter"] && c.jitter > c.duration {
		c.jitter = c.duration / 3 // the default's share of the default duration
	}
	if err := errors.Join(c.validate(set), retry.validate(set)); err != nil {
		return usageError{err}
	}
	if err := fc.validate(c, set); err != nil {
		return usageError{err}
	}
	if fc.path != "" {
		return fc.run(c, set, out)
	}
	start, err := time.Parse(time.RFC3339, c.start)
	if err != nil {
		return usageError{fmt.Errorf("-start: %w", err)}
	}
	approvals, err := parseApprove(c.approve)
	if err != nil {
		return usageError{err}
	}
	strategyJSON, fleetJSON := sampleStrategy, sampleFleet
	switch c.sample {
	case "basic":
	case "gated":
		strategyJSON = gatedStrategy
	default:
		return usageError{fmt.Errorf("-sample %q: want basic or gated", c.sample)}
	}
	if c.strategy != "" {
		if strategyJSON, err = os.ReadFile(c.strategy); err != nil {
			return err
		}
	}
	if c.fleet != "" {
		if fleetJSON, err = os.ReadFile(c.fleet); err != nil {
			return err
		}
	}
	var strategy fleetupdate.Strategy
	if err := decodeStrict(strategyJSON, &strategy); err != nil {
		return fmt.Errorf("strategy: %w", err)
	}
	var fleet fake.Fleet
	if err := decodeStrict(fleetJSON, &fleet); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if err := fleet.Validate(); err != nil {
		return err
	}
	if set["members"] {
		if err := resize(&fleet, c.members); err != nil {
			return usageError{err}
		}
	}

	spec := fleetupdate.Spec{Strategy: &strategy}
	spec.ManagedClusterUpdate.Upgrade.Type = fleetupdate.UpgradeType(c.upgradeType)
	if spec.ManagedClusterUpdate.Upgrade.Type != fleetupdate.NodeImageOnly {
		spec.ManagedClusterUpdate.Upgrade.KubernetesVersion = c.kubernetesVersion
	}
	if spec.ManagedClusterUpdate.Upgrade.Type != fleetupdate.ControlPlaneOnly {
		spec.ManagedClusterUpdate.NodeImageSelection = &fleetupdate.NodeImageSelection{Type: fleetupdate.NodeImageSelectionType(c.selection)}
	}
	r, err := fleetupdate.New("simulation", spec, fleet.Members, fleet.CatalogAt(start))
	if err != nil {
		return err
	}

	host := fake.NewHost(fleet.Clone(), c.seed)
	host.Duration, host.Jitter, host.FailureRate = c.duration, c.jitter, c.failRate
	host.Approvals = approvals
	host.Script = map[string][]fake.Outcome{}
	for _, m := range failing(c.fail) {
		if _, ok := r.Member(m); !ok {
			in := slices.ContainsFunc(fleet.Members, func(fm fleetupdate.Member) bool { return fm.Name == m })
			if !in {
				return usageError{fmt.Errorf("-fail %q: the fleet has no member of that name", m)}
			}
			return usageError{fmt.Errorf("-fail %q: the member is in no group of the strategy, so not in the run", m)}
		}
		host.Script[m] = []fake.Outcome{{Code: "UpgradeFailed", Message: "injected failure"}}
	}
	outside := notInRun(r, fleet.Members)
	if len(outside) > 0 {
		fmt.Fprintf(out, "Not in the run: %d of the fleet's %d members, which no group of the strategy selects:\n", len(outside), len(fleet.Members))
		for _, m := range outside {
			fmt.Fprintf(out, "  %s (group %q", m.Name, m.Group)
			if len(m.Labels) > 0 {
				fmt.Fprintf(out, ", labels %s", labelString(m.Labels))
			}
			fmt.Fprintln(out, ")")
		}
		fmt.Fprintln(out)
	}
	tr := fake.Simulate(r, host, fake.Options{Start: start, Horizon: c.horizon})
	if err := fc.saveRun(tr.Run, out); err != nil {
		return err
	}

	printTimeline(out, tr)
	printGates(out, tr)
	printSummary(out, tr, len(outside))
	for _, w := range []struct {
		path string
		html bool
	}{{c.html, true}, {c.svg, false}} {
		if w.path == "" {
			continue
		}
		if err := writeChart(w.path, tr, w.html); err != nil {
			return err
		}
		fmt.Fprintf(out, "Chart written to %s\n", w.path)
	}
	return retry.run(out, tr, host, c.horizon)
}

// decodeStrict reads one JSON value into v, refusing unknown fields and
// anything after the value; a syntax or type error says where, by line and
// column.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return fmt.Errorf("%s: %w", position(data, syntax.Offset), err)
		case errors.As(err, &typ):
			return fmt.Errorf("%s: %w", position(data, typ.Offset), err)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return fmt.Errorf("%s: unexpected end of JSON input", position(data, int64(len(data))))
		}
		return err
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		return fmt.Errorf("%s: data after the JSON value", position(data, int64(len(data)-len(rest)+1)))
	}
	return nil
}

// position says where the byte at offset-1 (the last one read) is, as
// "line L, column C", both from 1.
func position(data []byte, offset int64) string {
	offset = min(max(offset, 1), int64(len(data)))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n') - 1
	if line > 1 && col == 0 { // the last byte read ends a line
		line--
		prev := before[:len(before)-1]
		col = len(prev) - bytes.LastIndexByte(prev, '\n')
	}
	return fmt.Sprintf("line %d, column %d", line, max(col, 1))
}

// validate checks the flags that need no file; set holds the flags given.
func (c config) validate(set map[string]bool) error {
	switch {
	case !(c.failRate >= 0 && c.failRate <= 1): // NaN too
		return fmt.Errorf("-fail-rate %v: want a chance from 0 to 1", c.failRate)
	case c.duration <= 0:
		return fmt.Errorf("-duration %s: want a positive duration", c.duration)
	case c.jitter < 0 || c.jitter > c.duration:
		return fmt.Errorf("-jitter %s: want from 0 to -duration (%s)", c.jitter, c.duration)
	case !slices.Contains([]fleetupdate.UpgradeType{fleetupdate.Full, fleetupdate.ControlPlaneOnly, fleetupdate.NodeImageOnly}, fleetupdate.UpgradeType(c.upgradeType)):
		return fmt.Errorf("-upgrade-type %q: want Full, ControlPlaneOnly or NodeImageOnly", c.upgradeType)
	case c.upgradeType != string(fleetupdate.NodeImageOnly) && !validVersion(c.kubernetesVersion):
		return fmt.Errorf("-kubernetes-version %q: want a version such as 1.30 or 1.30.5", c.kubernetesVersion)
	case c.horizon <= 0:
		return fmt.Errorf("-horizon %s: want a positive duration", c.horizon)
	case c.selection != string(fleetupdate.Latest) && c.selection != string(fleetupdate.Consistent):
		return fmt.Errorf("-node-image-selection %q: want Latest or Consistent", c.selection)
	case set["node-image-selection"] && c.upgradeType == string(fleetupdate.ControlPlaneOnly):
		return fmt.Errorf("-node-image-selection %s: a ControlPlaneOnly upgrade changes no node images; drop the flag", c.selection)
	case set["kubernetes-version"] && c.upgradeType == string(fleetupdate.NodeImageOnly):
		return fmt.Errorf("-kubernetes-version %s: a NodeImageOnly upgrade has no Kubernetes version; drop the flag", c.kubernetesVersion)
	case set["fail"] && len(failing(c.fail)) == 0:
		return fmt.Errorf("-fail %q: want comma-separated member names", c.fail)
	}
	return nil
}

// validVersion reports whether v is a Kubernetes version the run accepts.
func validVersion(v string) bool {
	_, err := kversion.Parse(v)
	return err == nil
}

// failing lists the members -fail names.
func failing(v string) []string {
	var out []string
	for _, m := range strings.Split(v, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// parseApprove reads the -approve flag.
func parseApprove(v string) (fake.Approvals, error) {
	switch {
	case v == "at-once":
		return fake.Approvals{}, nil
	case v == "never":
		return fake.Approvals{Never: true}, nil
	case strings.HasPrefix(v, "after="), strings.HasPrefix(v, "within="):
		kind, arg, _ := strings.Cut(v, "=")
		d, err := time.ParseDuration(arg)
		if err != nil || d < 0 {
			return fake.Approvals{}, fmt.Errorf("-approve %q: %s= wants a duration of at least 0 such as 2h", v, kind)
		}
		if kind == "after" {
			return fake.Approvals{Delay: d}, nil
		}
		return fake.Approvals{Spread: d}, nil
	}
	return fake.Approvals{}, fmt.Errorf("-approve %q: want at-once, after=DURATION, within=DURATION or never", v)
}

func writeChart(path string, tr fake.Trace, html bool) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if html {
		return writeHTML(f, tr)
	}
	return writeSVG(f, tr)
}

// memberRow is one line of the timeline.
type memberRow struct {
	stage, group string
	m            fleetupdate.MemberStatus
}

func members(st fleetupdate.Status) []memberRow {
	var rows []memberRow
	for _, s := range st.Stages {
		for _, g := range s.Groups {
			for _, m := range g.Members {
				rows = append(rows, memberRow{s.Name, g.Name, m})
			}
		}
	}
	return rows
}

func clock(start, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(start)
	return fmt.Sprintf("d%d %s", int(d.Hours())/24, t.Format("15:04"))
}

func printTimeline(out io.Writer, tr fake.Trace) {
	rows := members(tr.Run.Status())
	// In start order; members that never started last, in strategy order.
	slices.SortStableFunc(rows, func(a, b memberRow) int {
		switch {
		case a.m.Status.StartTime.IsZero() != b.m.Status.StartTime.IsZero():
			if a.m.Status.StartTime.IsZero() {
				return 1
			}
			return -1
		}
		return a.m.Status.StartTime.Compare(b.m.Status.StartTime)
	})
	fmt.Fprintf(out, "Update run simulated from %s (times are day and UTC clock since then)\n\n", tr.Start.Format(time.RFC3339))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tGROUP\tMEMBER\tSTART\tEND\tSTATE\tMESSAGE")
	for _, r := range rows {
		msg := r.m.Message
		if e := r.m.Status.Error; e != nil {
			msg = e.Code + ": " + e.Message
		}
		lines := wrap(msg, 100)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.stage, r.group, r.m.Name, clock(tr.Start, r.m.Status.StartTime), clock(tr.Start, r.m.Status.CompletedTime), r.m.Status.State, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t\t\t\t\t  %s\n", l)
		}
	}
	tw.Flush()
}

// notInRun lists the members of the fleet the run left out: no group
// selects them.
func notInRun(r fleetupdate.Run, fleet []fleetupdate.Member) []fleetupdate.Member {
	var out []fleetupdate.Member
	for _, m := range fleet {
		if _, ok := r.Member(m.Name); !ok {
			out = append(out, m)
		}
	}
	return out
}

// labelString writes labels as a selector would match them: "env=prod,geo=eu".
func labelString(l map[string]string) string {
	keys := slices.Sorted(maps.Keys(l))
	for i, k := range keys {
		keys[i] = k + "=" + l[k]
	}
	return strings.Join(keys, ",")
}

// summaryStates are the member states the summary counts, in its order: all
// eight of Azure's.
var summaryStates = []fleetupdate.State{fleetupdate.Completed, fleetupdate.Skipped, fleetupdate.Failed, fleetupdate.Running,
	fleetupdate.Stopping, fleetupdate.Stopped, fleetupdate.Pending, fleetupdate.NotStarted}

// printSummary says how the run ended and counts its members by state;
// states no member is in are left out, except the usual five.
func printSummary(out io.Writer, tr fake.Trace, outside int) {
	st := tr.Run.Status()
	count := map[fleetupdate.State]int{}
	rows := members(st)
	for _, r := range rows {
		count[r.m.Status.State]++
	}
	elapsed := tr.End.Sub(tr.Start)
	fmt.Fprintf(out, "\nRun %s after %s of virtual time (%d events).\n", st.Status.State, formatDuration(elapsed), len(tr.Entries))
	var parts []string
	for _, s := range summaryStates {
		switch s {
		case fleetupdate.Running, fleetupdate.Stopping, fleetupdate.Stopped:
			if count[s] == 0 {
				continue
			}
		}
		parts = append(parts, fmt.Sprintf("%d %s", count[s], strings.ToLower(splitWords(string(s)))))
	}
	fmt.Fprintf(out, "Members: %s = %d in the run", strings.Join(parts, ", "), len(rows))
	if outside > 0 {
		fmt.Fprintf(out, " (and %d not in it)", outside)
	}
	fmt.Fprintln(out, ".")
	if e := st.Status.Error; e != nil {
		fmt.Fprintf(out, "Error: %s: %s\n", e.Code, e.Message)
	}
	if sel := st.NodeImageSelection; sel != nil {
		var vs []string
		for _, v := range sel.SelectedNodeImageVersions {
			vs = append(vs, v.Version)
		}
		kind := "Latest"
		if u := tr.Run.Spec().ManagedClusterUpdate.NodeImageSelection; u != nil {
			kind = string(u.Type)
		}
		fmt.Fprintf(out, "%s node images: %s\n", kind, strings.Join(vs, ", "))
	}
}

// wrap breaks s into lines of at most width bytes at spaces (a longer word
// gets a line of its own); it returns at least one line.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// splitWords writes "NotStarted" as "Not Started".
func splitWords(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func formatDuration(d time.Duration) string {
	days := int(d.Hours()) / 24
	rest := d - time.Duration(days)*24*time.Hour
	if days == 0 {
		return rest.String()
	}
	return fmt.Sprintf("%dd%s", days, rest)
}

// gateRow is one gate of the run as the timeline and the chart show it.
type gateRow struct {
	stage, group string // group empty for a stage's gate
	timing       fleetupdate.GateTiming
	typ          fleetupdate.GateType // empty if the run never reached it
	g            fleetupdate.GateStatus
	startAt      time.Time // ScheduledStart: when it opens by itself
}

// name says which gate it is: "Approval "change board" before stage production".
func (r gateRow) name() string {
	s := string(r.typ)
	if s == "" {
		s = "gate"
	}
	if r.g.DisplayName != "" {
		s += fmt.Sprintf(" %q", r.g.DisplayName)
	}
	where := "stage " + r.stage
	if r.group != "" {
		where = "group " + r.group
	}
	return fmt.Sprintf("%s %s %s", s, strings.ToLower(string(r.timing)), where)
}

// gates lists the run's gates in tree order, with their types from the
// AwaitGate commands of the trace.
func gates(tr fake.Trace) []gateRow {
	await := map[fleetupdate.GateID]fleetupdate.AwaitGate{}
	for _, e := range tr.Entries {
		for _, c := range e.Commands {
			if a, ok := c.(fleetupdate.AwaitGate); ok {
				await[a.Gate] = a
			}
		}
	}
	for _, r := range tr.Restarts {
		for _, c := range r.Outstanding {
			if a, ok := c.(fleetupdate.AwaitGate); ok {
				await[a.Gate] = a
			}
		}
	}
	var rows []gateRow
	add := func(stage, group string, timing fleetupdate.GateTiming, gs []fleetupdate.GateStatus) {
		for _, g := range gs {
			a := await[g.GateID]
			rows = append(rows, gateRow{stage, group, timing, a.Type, g, a.StartAt})
		}
	}
	for _, s := range tr.Run.Status().Stages {
		add(s.Name, "", fleetupdate.Before, s.BeforeGates)
		for _, g := range s.Groups {
			add(s.Name, g.Name, fleetupdate.Before, g.BeforeGates)
			add(s.Name, g.Name, fleetupdate.After, g.AfterGates)
		}
		add(s.Name, "", fleetupdate.After, s.AfterGates)
	}
	return rows
}

// printGates prints a line when each gate was reached and one when it was
// approved (or opened, for a scheduled start), in time order.
func printGates(out io.Writer, tr fake.Trace) {
	rows := gates(tr)
	if len(rows) == 0 {
		return
	}
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	var never []string
	for _, r := range rows {
		st := r.g.Status
		if st.StartTime.IsZero() {
			never = append(never, fmt.Sprintf("  %s: %s", r.name(), st.State))
			continue
		}
		reached := fmt.Sprintf("%-9s %s", "reached", r.name())
		if !r.startAt.IsZero() {
			reached += ", opens " + clock(tr.Start, r.startAt)
		}
		lines = append(lines, line{st.StartTime, reached})
		switch {
		case !st.CompletedTime.IsZero() && r.typ == fleetupdate.ScheduledStart && st.CompletedTime.Before(r.startAt):
			lines = append(lines, line{st.CompletedTime, fmt.Sprintf("%-9s %s", "completed", r.name()+" early")})
		case !st.CompletedTime.IsZero() && r.typ == fleetupdate.ScheduledStart:
			lines = append(lines, line{st.CompletedTime, fmt.Sprintf("%-9s %s", "opened", r.name())})
		case !st.CompletedTime.IsZero():
			lines = append(lines, line{st.CompletedTime, fmt.Sprintf("%-9s %s", "approved", r.name())})
		default:
			never = append(never, fmt.Sprintf("  %s: %s since %s", r.name(), st.State, clock(tr.Start, st.StartTime)))
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	fmt.Fprintln(out, "\nGates:")
	for _, l := range lines {
		fmt.Fprintf(out, "  %-9s %s\n", clock(tr.Start, l.at), l.text)
	}
	if len(never) > 0 {
		fmt.Fprintln(out, "Gates not passed:")
		for _, n := range never {
			fmt.Fprintln(out, n)
		}
	}
}
