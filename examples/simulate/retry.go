package main

// -retry: after the run, the run that retries what it failed or skipped,
// with the inputs it chose (fleetupdate.Run.Retry, Azure/AKS#5733).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// retryConfig holds the -retry flags.
type retryConfig struct {
	on          bool
	userSkipped bool
	unfinished  bool
}

func retryFlags(fs *flag.FlagSet) *retryConfig {
	c := &retryConfig{}
	fs.BoolVar(&c.on, "retry", false, "after the run, retry its failed and system-skipped members with the Kubernetes version and node images it chose: build the retry run(s), simulate them on the same fleet and print their summaries")
	fs.BoolVar(&c.userSkipped, "retry-user-skipped", false, "with -retry: also retry the members a user skipped")
	fs.BoolVar(&c.unfinished, "retry-unfinished", false, "with -retry: also retry the members a stopped or failed run never finished")
	return c
}

// validate refuses the -retry-… options without -retry, and -retry with
// -forecast, which simulates nothing to retry.
func (c *retryConfig) validate(set map[string]bool) error {
	for _, f := range []string{"retry", "retry-user-skipped", "retry-unfinished"} {
		switch {
		case set[f] && set["forecast"]:
			return fmt.Errorf("-%s: not used with -forecast (a forecast assumes no failures)", f)
		case set[f] && !c.on:
			return fmt.Errorf("-%s: only with -retry", f)
		}
	}
	return nil
}

// run retries the finished run of tr on host, the host that performed it,
// so the fleet and each member's attempts carry on from there.
func (c *retryConfig) run(out io.Writer, tr fake.Trace, host *fake.Host, horizon time.Duration) error {
	if !c.on {
		return nil
	}
	plan, err := tr.Run.Retry(fleetupdate.RetryOptions{UserSkipped: c.userSkipped, Unfinished: c.unfinished})
	if errors.Is(err, fleetupdate.ErrInvalidTransition) {
		return fmt.Errorf("-retry: %w (a longer -horizon may let it finish)", err)
	}
	if err != nil {
		return fmt.Errorf("-retry: %w", err)
	}
	if len(plan.Runs) == 0 {
		fmt.Fprintf(out, "\nRetry: nothing to retry in run %s: no member failed or was skipped for a reason a retry can change.\n", tr.Run.Name())
		return nil
	}
	start := tr.End
	for _, rr := range plan.Runs {
		up := rr.Spec.ManagedClusterUpdate
		fmt.Fprintf(out, "\n\nRetry run %s of %s: %d member(s), %s", rr.Name, tr.Run.Name(), len(rr.Members), up.Upgrade.Type)
		if v := up.Upgrade.KubernetesVersion; v != "" {
			fmt.Fprintf(out, " to Kubernetes %s", v)
		}
		if sel := up.NodeImageSelection; sel != nil {
			var vs []string
			for _, v := range sel.CustomNodeImageVersions {
				vs = append(vs, v.Version)
			}
			fmt.Fprintf(out, ", node images %s %s", sel.Type, strings.Join(vs, ", "))
		}
		fmt.Fprintln(out)
		r, err := fleetupdate.New(rr.Name, rr.Spec, rr.Members, host.Fleet.CatalogAt(start))
		if err != nil {
			return fmt.Errorf("-retry: %w", err)
		}
		rt := fake.Simulate(r, host, fake.Options{Start: start, Horizon: horizon})
		printTimeline(out, rt)
		printGates(out, rt)
		printSummary(out, rt, 0)
		start = rt.End
	}
	return nil
}
