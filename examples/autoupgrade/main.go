// Command autoupgrade simulates six months of Azure Kubernetes Fleet Manager
// auto-upgrade profiles over a 40-cluster fleet: a Stable profile keeps
// Kubernetes current and a NodeImage profile the node images, while a
// simulated AKS publishes patches every few weeks, a minor every few months
// (previewed, then GA region by region) and node images every week. It
// prints every run the profiles generate, the members they leave out and
// why, and how long members spent behind their channel's target; with -html
// or -svg it draws every member's Kubernetes and node-image versions over time.
//
//	go run ./examples/autoupgrade -html au.html               # fleetkit: profiles catch up
//	go run ./examples/autoupgrade -no-catch-up -html nc.html  # Azure's event-driven behaviour
//
// Without catch-up a profile acts only when its channel's target changes, so
// a member a run misses (a stopped cluster, a failure that stops the run)
// waits for the next release (Azure/AKS#5741).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage is printed; asking for it is no failure
		}
		fmt.Fprintln(os.Stderr, "autoupgrade:", err)
		os.Exit(1)
	}
}

const day = 24 * time.Hour

type config struct {
	noCatchUp bool
	days      int
	every     time.Duration
	seed      uint64
	failRate  float64
	html, svg string
}

// simulation is one simulated half-year and what it means.
type simulation struct {
	cfg     config
	train   *fake.ReleaseTrain
	trace   fake.AutoUpgradeTrace
	behind  map[string]map[string][]span // profile → member → spans behind the channel's target
	targets map[string]autoupgrade.Target
}

// span is a stretch of time.
type span struct{ from, to time.Time }

func run(args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("autoupgrade", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.BoolVar(&c.noCatchUp, "no-catch-up", false, "evaluate as Azure's event-driven auto-upgrade does: only when the channel's target changes")
	fs.IntVar(&c.days, "days", 183, "how many days to simulate")
	fs.DurationVar(&c.every, "every", 24*time.Hour, "how often the profiles are evaluated")
	fs.Uint64Var(&c.seed, "seed", 1, "seed for upgrade durations and failures")
	fs.Float64Var(&c.failRate, "fail-rate", 0.02, "chance from 0 to 1 that an upgrade fails with an AKS-like error")
	fs.StringVar(&c.html, "html", "", "write a chart of every member's versions over time to this HTML file")
	fs.StringVar(&c.svg, "svg", "", "write the chart to this SVG file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.days < 1 || c.every <= 0 {
		return errors.New("-days and -every must be positive")
	}
	s, err := simulate(c)
	if err != nil {
		return err
	}
	s.print(out)
	for _, w := range []struct {
		path string
		html bool
	}{{c.html, true}, {c.svg, false}} {
		if w.path == "" {
			continue
		}
		if err := s.writeChart(w.path, w.html); err != nil {
			return err
		}
		fmt.Fprintf(out, "Chart written to %s\n", w.path)
	}
	return nil
}

func simulate(c config) (*simulation, error) {
	start := fake.GenEpoch
	end := start.Add(time.Duration(c.days) * day)
	train := fake.NewReleaseTrain(fake.TrainOptions{Start: start, Stop: end})
	h := newHost(c.seed, c.failRate, train)
	tr, err := fake.SimulateAutoUpgrade(h, train, profiles(), fake.AutoUpgradeOptions{Start: start, Horizon: end.Sub(start), Every: c.every, NoCatchUp: c.noCatchUp})
	if err != nil {
		return nil, err
	}
	s := &simulation{cfg: c, train: train, trace: tr, behind: map[string]map[string][]span{}, targets: map[string]autoupgrade.Target{}}
	s.measure()
	return s, nil
}

// measure finds, from each evaluation's target, when each member was behind it.
func (s *simulation) measure() {
	evs := s.trace.Evaluations
	for i, pe := range evs {
		next := s.trace.End
		for _, later := range evs[i+1:] {
			if later.Profile == pe.Profile {
				next = later.At
				break
			}
		}
		s.targets[pe.Profile] = pe.Evaluation.Target
		if s.behind[pe.Profile] == nil {
			s.behind[pe.Profile] = map[string][]span{}
		}
		for _, m := range s.trace.Members {
			if !behind(pe.Evaluation.Target, versionAt(m, pe.At)) {
				continue
			}
			sp := s.behind[pe.Profile][m.Name]
			if n := len(sp); n > 0 && sp[n-1].to.Equal(pe.At) {
				sp[n-1].to = next
			} else {
				sp = append(sp, span{pe.At, next})
			}
			s.behind[pe.Profile][m.Name] = sp
		}
	}
}

// versionAt returns the member's versions at t.
func versionAt(m fake.MemberTimeline, t time.Time) fake.VersionSample {
	v := m.Samples[0]
	for _, s := range m.Samples {
		if s.At.After(t) {
			break
		}
		v = s
	}
	return v
}

// behind reports whether versions fall short of a channel's target.
func behind(t autoupgrade.Target, v fake.VersionSample) bool {
	if t.KubernetesVersion != "" && compareKubernetes(v.KubernetesVersion, t.KubernetesVersion) < 0 {
		return true
	}
	for _, want := range t.NodeImages {
		w, _ := nodeimage.Parse(want)
		for _, have := range v.NodeImages {
			h, _ := nodeimage.Parse(have)
			if c, err := h.Compare(w); err == nil && c < 0 {
				return true
			}
		}
	}
	return false
}

func compareKubernetes(a, b string) int {
	x, _ := kversion.Parse(a)
	y, _ := kversion.Parse(b)
	return x.Compare(y)
}

// last returns a profile's last evaluation.
func (s *simulation) last(profile string) autoupgrade.Evaluation {
	for i := len(s.trace.Evaluations) - 1; i >= 0; i-- {
		if pe := s.trace.Evaluations[i]; pe.Profile == profile {
			return pe.Evaluation
		}
	}
	return autoupgrade.Evaluation{}
}

// daysBehind sums the time members spent behind a profile's target, in days.
func (s *simulation) daysBehind(profile string) float64 {
	var d time.Duration
	for _, sp := range s.behind[profile] {
		for _, x := range sp {
			d += x.to.Sub(x.from)
		}
	}
	return d.Hours() / 24
}

func (s *simulation) dayOf(t time.Time) string {
	return fmt.Sprintf("d%d", int(t.Sub(s.trace.Start)/day))
}

func (s *simulation) mode() string {
	if s.cfg.noCatchUp {
		return "without catch-up (Azure's event-driven auto-upgrade: a profile acts when its channel's target changes)"
	}
	return "with catch-up (fleetkit: every evaluation includes every member behind the target)"
}

func (s *simulation) print(out io.Writer) {
	tr := s.trace
	fmt.Fprintf(out, "Auto-upgrade of %d clusters from %s for %d days, evaluated every %s, %s.\n",
		len(tr.Members), tr.Start.Format(time.DateOnly), s.cfg.days, s.cfg.every, s.mode())
	fmt.Fprintf(out, "Profiles: stable (channel Stable, Full runs) and node-image (channel NodeImage), both canary -> staging -> production.\n\n")

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DAY\tPROFILE\tRUN\tUPGRADE\tMEMBERS\tRESULT\tWHY")
	for _, r := range tr.Runs {
		up := r.Run.Spec.ManagedClusterUpdate.Upgrade
		what := string(up.Type)
		if up.KubernetesVersion != "" {
			what += " " + up.KubernetesVersion
		}
		result := string(r.State)
		if !r.Ended.IsZero() {
			result += " " + s.dayOf(r.Ended)
		}
		why := r.Run.Why
		if len(why) > 70 {
			why = why[:67] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.dayOf(r.Created), r.Run.Profile, r.Run.Name, what, len(r.Run.Members), result, why)
	}
	tw.Flush()

	fmt.Fprintf(out, "\nLeft out, for a person to act on:\n")
	seen := map[string]bool{}
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, pe := range tr.Evaluations {
		for _, l := range pe.Evaluation.LeftOut {
			if l.Reason == autoupgrade.InRun {
				continue
			}
			k := pe.Profile + l.Member + string(l.Reason)
			if !seen[k] {
				seen[k] = true
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.dayOf(pe.At), pe.Profile, l.Member, l.Reason, l.Message)
			}
		}
	}
	tw.Flush()

	left := map[string]bool{}
	for _, p := range profiles() {
		for _, l := range s.last(p.Name).LeftOut {
			if l.Reason != autoupgrade.InRun {
				left[l.Member] = true
			}
		}
	}
	fmt.Fprintf(out, "\n%d runs generated; %d members left out at the end, for a person to act on.\n", len(tr.Runs), len(left))
	for _, p := range profiles() {
		t := s.targets[p.Name]
		target := t.KubernetesVersion
		if target == "" {
			target = strings.Join(t.NodeImages, ", ")
		}
		at := 0
		for _, m := range tr.Members {
			if !behind(t, m.Samples[len(m.Samples)-1]) {
				at++
			}
		}
		fmt.Fprintf(out, "%s: %d of %d members at the final target (%s); %.0f member-days behind the target in all.\n",
			p.Name, at, len(tr.Members), target, s.daysBehind(p.Name))
	}
}
