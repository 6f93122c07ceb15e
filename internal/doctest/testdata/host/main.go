// Command host runs the host loops copied from fleetkit's documentation
// (README.md, fleetupdate/doc.go) against a simulated fleet in virtual time.
// The test writes the loops into a second file of this package, each as the
// body of a func() error registered in hosts, and builds the two files.
//
//	host -loop README.md -scenario completed
//
// prints one JSON report and exits 0; the test judges the report.
//
// The loop's free identifiers are defined here: spec, members, catalog,
// clock, persist, upgrade, timers, notify and results (log is the standard package).
// Everything the loop asks for goes to one scheduler goroutine, which keeps
// the virtual clock, a queue of future events (outcomes, ticks, the
// scenario's injections) and its own copy of the run, stepped with the same
// events, which says which commands each step must have performed. It
// delivers the earliest queued event on the unbuffered results channel only
// once every command of the previous step has reached it, so the run is the
// same whatever order the loop's goroutines are scheduled in.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// hosts holds the documented loops by file name; the generated file fills it.
var hosts = map[string]func() error{}

// The loop's inputs and services.
var (
	spec    fleetupdate.Spec
	members []fleetupdate.Member
	catalog fleetupdate.Catalog
	clock   = &virtualClock{}
	timers  = timerService{}
	results = make(chan fleetupdate.Event) // unbuffered: a send completes only when the loop reads
)

type virtualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *virtualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// request is a command the loop performed.
type request struct {
	upgrade *fleetupdate.UpgradeMember
	gate    fleetupdate.GateID // an AwaitGate passed to notify
	wake    time.Time
	out     chan fleetupdate.Event
}

func (r request) String() string {
	switch {
	case r.upgrade != nil:
		return fmt.Sprintf("UpgradeMember %+v", *r.upgrade)
	case r.gate != "":
		return "AwaitGate " + string(r.gate)
	}
	return "WakeAt " + r.wake.Format(time.RFC3339)
}

var requests = make(chan request)

// upgrade is started with go: it registers the upgrade and returns; the
// scheduler reports the outcome on results when its virtual time comes.
func upgrade(c fleetupdate.UpgradeMember, out chan fleetupdate.Event) {
	requests <- request{upgrade: &c, out: out}
}

// notify tells the approver (the scheduler), who approves the gate on
// results half an hour later.
func notify(c fleetupdate.AwaitGate) {
	requests <- request{gate: c.Gate, out: results}
}

type timerService struct{}

// At asks for a Tick at t, delivered on results by the scheduler.
func (timerService) At(t time.Time, out chan fleetupdate.Event) {
	requests <- request{wake: t, out: out}
}

// journal is what persist was given, in order.
var journal struct {
	mu     sync.Mutex
	events []fleetupdate.Event
}

func persist(ev fleetupdate.Event) error {
	journal.mu.Lock()
	defer journal.mu.Unlock()
	journal.events = append(journal.events, ev)
	return nil
}

// logged collects what the loop logs.
var logged struct {
	mu sync.Mutex
	b  strings.Builder
}

type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) {
	logged.mu.Lock()
	defer logged.mu.Unlock()
	return logged.b.Write(p)
}

// final is the loop's run when host returned: the generated file appends
// hostReturned(run) after each loop.
var final struct {
	mu  sync.Mutex
	run fleetupdate.Run
	set bool
}

func hostReturned(run fleetupdate.Run) {
	final.mu.Lock()
	defer final.mu.Unlock()
	final.run, final.set = run, true
}

// Report is what the program prints.
type Report struct {
	Loop      string   `json:"loop"`
	Scenario  string   `json:"scenario"`
	State     string   `json:"state"`     // the loop's run.State() when the loop ended; "" if it ended without reaching hostReturned
	Persisted int      `json:"persisted"` // events given to persist
	Journal   []string `json:"journal"`   // the persisted events, briefly
	Accepted  int      `json:"accepted"`  // events Step accepted (Start and delivered ones)
	Delivered int      `json:"delivered"` // events sent on results
	Refused   []string `json:"refused"`   // Step's errors for the delivered events it refused
	Logged    string   `json:"logged"`    // what the loop logged
	Upgrades  int      `json:"upgrades"`  // UpgradeMember commands performed
	Ticks     int      `json:"ticks"`     // Ticks delivered
	Problems  []string `json:"problems"`  // everything the loop did wrong
}

// item is a future event in the scheduler's queue.
type item struct {
	at   time.Time
	rank int    // ties at one instant: injections, then outcomes, then ticks
	key  string // then by key, so the order never depends on goroutine scheduling
	make func(now time.Time) fleetupdate.Event
}

type scheduler struct {
	sc       *scenario
	now      time.Time
	run      fleetupdate.Run // stepped with every event the loop is given
	queue    []item
	accepted []fleetupdate.Event
	rep      Report
	returned chan error // host's result, sent by main
	injected bool       // the scenario's injection is queued
}

func (s *scheduler) problem(format string, args ...any) {
	s.rep.Problems = append(s.rep.Problems, fmt.Sprintf(format, args...))
}

// apply steps the scheduler's run with ev and waits until the loop has
// performed every command the step returned. It reports false if the loop
// returned or did something else instead.
func (s *scheduler) apply(ev fleetupdate.Event) bool {
	next, cmds, err := fleetupdate.Step(s.run, ev)
	if err != nil {
		s.rep.Refused = append(s.rep.Refused, err.Error())
		return true
	}
	s.run = next
	s.accepted = append(s.accepted, ev)
	for len(cmds) > 0 {
		var r request
		select {
		case r = <-requests:
		case err := <-s.returned:
			s.problem("the loop returned (err %v) before performing %d command(s) of its last step, e.g. %v", err, len(cmds), cmds[0])
			return false
		}
		if r.out != results {
			s.problem("the loop passed a channel other than results to %v", r)
		}
		i := slices.IndexFunc(cmds, func(c fleetupdate.Command) bool {
			switch c := c.(type) {
			case fleetupdate.UpgradeMember:
				return r.upgrade != nil && reflect.DeepEqual(c, *r.upgrade)
			case fleetupdate.WakeAt:
				return r.upgrade == nil && r.gate == "" && c.At.Equal(r.wake)
			case fleetupdate.AwaitGate:
				return r.gate == c.Gate
			}
			return false
		})
		if i < 0 {
			s.problem("the loop performed %v, which the step did not ask for (it asked for %v)", r, cmds)
			return false
		}
		cmds = slices.Delete(cmds, i, i+1)
		s.schedule(r)
	}
	return true
}

// schedule queues the event a performed command leads to.
func (s *scheduler) schedule(r request) {
	if r.gate != "" {
		s.push(item{at: s.now.Add(30 * time.Minute), key: "gate/" + string(r.gate), make: func(now time.Time) fleetupdate.Event {
			return fleetupdate.CompleteGate{At: now, Gate: r.gate}
		}})
		return
	}
	if r.upgrade == nil {
		s.push(item{at: r.wake, rank: 2, key: r.wake.Format(time.RFC3339Nano), make: func(now time.Time) fleetupdate.Event {
			s.rep.Ticks++
			return fleetupdate.Tick{At: now}
		}})
		return
	}
	c := *r.upgrade
	s.rep.Upgrades++
	s.push(item{at: s.now.Add(s.sc.duration(c.Member)), rank: 1, key: string(c.Op), make: func(now time.Time) fleetupdate.Event {
		if s.sc.outcome != nil {
			return s.sc.outcome(c, now)
		}
		return fleetupdate.UpgradeSucceeded{At: now, Op: c.Op}
	}})
	if s.sc.onUpgrade != nil {
		s.sc.onUpgrade(s, c)
	}
}

func (s *scheduler) push(it item) {
	if it.at.Before(s.now) {
		it.at = s.now
	}
	s.queue = append(s.queue, it)
}

func (s *scheduler) pop() (item, bool) {
	if len(s.queue) == 0 {
		return item{}, false
	}
	i := 0
	for j, it := range s.queue {
		b := s.queue[i]
		if it.at.Before(b.at) || it.at.Equal(b.at) && (it.rank < b.rank || it.rank == b.rank && it.key < b.key) {
			i = j
		}
	}
	it := s.queue[i]
	s.queue = slices.Delete(s.queue, i, i+1)
	return it, true
}

// loop runs the fleet until the loop returns or goes wrong, then reports
// and exits the program.
func (s *scheduler) loop() {
	if !s.apply(fleetupdate.Start{At: s.now}) {
		return
	}
	for !s.run.Done() {
		it, ok := s.pop()
		if !ok {
			s.problem("the run is %s with nothing in flight and no wake-up owed: it would never finish", s.run.State())
			return
		}
		if it.at.After(s.now) {
			s.now = it.at
			clock.set(s.now)
		}
		ev := it.make(s.now)
		select {
		case results <- ev:
			s.rep.Delivered++
		case err := <-s.returned:
			s.problem("the loop returned (err %v) while the run was still %s", err, s.run.State())
			return
		case r := <-requests:
			s.problem("the loop performed %v, which no step asked for", r)
			return
		}
		if s.sc.afterDelivery != nil {
			s.sc.afterDelivery(s, ev)
		}
		if !s.apply(ev) {
			return
		}
	}
	// Done: a correct loop returns now. One that reads results again
	// would wait forever; to find out, offer it an event Step refuses
	// (nil), so it changes nothing the report shows.
	select {
	case err := <-s.returned:
		if err != nil {
			s.problem("the loop returned %v", err)
		}
	case results <- nil:
		s.problem("the run is %s (Done), but the loop waited for another event: it would wait forever", s.run.State())
	case r := <-requests:
		s.problem("the loop performed %v after the last step", r)
	}
}

// exit checks what the loop did, prints the report and exits: the loop may
// still be blocked if it went wrong.
func (s *scheduler) exit() {
	s.check()
	out, _ := json.MarshalIndent(s.rep, "", "  ")
	fmt.Println(string(out))
	os.Exit(0)
}

func (s *scheduler) check() {
	journal.mu.Lock()
	persisted := slices.Clone(journal.events)
	journal.mu.Unlock()
	s.rep.Persisted, s.rep.Accepted = len(persisted), len(s.accepted)
	for _, ev := range persisted {
		s.rep.Journal = append(s.rep.Journal, brief(ev))
	}
	for i := range max(len(persisted), len(s.accepted)) {
		switch {
		case i >= len(persisted):
			s.problem("accepted event %d (%T) was not persisted", i, s.accepted[i])
		case i >= len(s.accepted):
			s.problem("persisted event %d (%T %+v) was never accepted", i, persisted[i], persisted[i])
		case !reflect.DeepEqual(persisted[i], s.accepted[i]):
			s.problem("persisted event %d is %T %+v, the accepted one is %T %+v", i, persisted[i], persisted[i], s.accepted[i], s.accepted[i])
		default:
			continue
		}
		break
	}
	logged.mu.Lock()
	s.rep.Logged = logged.b.String()
	logged.mu.Unlock()
	for _, e := range s.rep.Refused {
		if !strings.Contains(s.rep.Logged, e) {
			s.problem("refused event not logged: %s", e)
		}
	}
	final.mu.Lock()
	defer final.mu.Unlock()
	if final.set {
		s.rep.State = string(final.run.State())
		a, errA := json.Marshal(final.run)
		b, errB := json.Marshal(s.run)
		if errA != nil || errB != nil || string(a) != string(b) {
			s.problem("the loop's run differs from the run stepped with the same events (%v, %v):\n%s\n%s", errA, errB, a, b)
		}
	}
}

// scenario is a fleet, how it behaves, and what the scheduler injects.
type scenario struct {
	spec          string // Spec JSON
	members       []fleetupdate.Member
	duration      func(member string) time.Duration
	outcome       func(c fleetupdate.UpgradeMember, now time.Time) fleetupdate.Event
	onUpgrade     func(s *scheduler, c fleetupdate.UpgradeMember)
	afterDelivery func(s *scheduler, ev fleetupdate.Event)
}

const (
	oldImage = "AKSUbuntu-2204gen2containerd-202405.13.0"
	newImage = "AKSUbuntu-2204gen2containerd-202405.20.0"
)

func fleet(k8s, image string, windows map[string]*window.Schedule, names ...string) []fleetupdate.Member {
	var ms []fleetupdate.Member
	for _, n := range names {
		group, _, _ := strings.Cut(n, "-")
		ms = append(ms, fleetupdate.Member{
			Name: n, Group: group, Region: "eastus", KubernetesVersion: k8s,
			NodePools:         []fleetupdate.NodePool{{Name: "system", NodeImageVersion: image}, {Name: "user", NodeImageVersion: image}},
			AutoUpgradeWindow: windows[n],
		})
	}
	return ms
}

func tenMinutes(string) time.Duration { return 10 * time.Minute }

const oneGroup = `{"strategy": {"stages": [{"name": "all", "groups": [{"name": "prod", "maxConcurrency": "%d"}]}]},
  "managedClusterUpdate": {"upgrade": {"type": "Full", "kubernetesVersion": "1.30"}, "nodeImageSelection": {"type": "Latest"}}}`

var scenarios = map[string]scenario{
	// Two stages with an after-stage wait, a member whose nightly window
	// opens ten hours after the start: WakeAt and Tick, then Completed.
	"completed": {
		spec: `{"strategy": {"stages": [
		    {"name": "canary", "groups": [{"name": "dev", "maxConcurrency": "2"}], "afterStageWaitInSeconds": 3600},
		    {"name": "prod", "groups": [{"name": "eu"}, {"name": "us"}]}]},
		  "managedClusterUpdate": {"upgrade": {"type": "Full", "kubernetesVersion": "1.30"}, "nodeImageSelection": {"type": "Consistent"}}}`,
		members: fleet("1.29.4", oldImage, map[string]*window.Schedule{
			"eu-1": {Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "22:00", DurationHours: 6},
		}, "dev-1", "dev-2", "dev-3", "eu-1", "eu-2", "us-1"),
		duration: func(m string) time.Duration { return time.Duration(5+5*int(m[len(m)-1]-'0')) * time.Minute },
	},
	// The second of two concurrent upgrades fails while the first is in
	// flight: Stopping, then Failed when the first reports.
	"failed": {
		spec:    fmt.Sprintf(oneGroup, 2),
		members: fleet("1.29.4", oldImage, nil, "prod-1", "prod-2", "prod-3"),
		duration: func(m string) time.Duration {
			if m == "prod-2" {
				return 10 * time.Minute
			}
			return 30 * time.Minute
		},
		outcome: func(c fleetupdate.UpgradeMember, now time.Time) fleetupdate.Event {
			if c.Member == "prod-2" {
				return fleetupdate.UpgradeFailed{At: now, Op: c.Op, Code: "UpgradeFailed", Message: "nodes did not become ready"}
			}
			return fleetupdate.UpgradeSucceeded{At: now, Op: c.Op}
		},
	},
	// Every member is already at the target: the run ends Skipped at Start.
	"skipped": {
		spec:     fmt.Sprintf(oneGroup, 1),
		members:  fleet("1.30.5", newImage, nil, "prod-1", "prod-2"),
		duration: tenMinutes,
	},
	// A user Stop while the first upgrade is in flight: Stopping, then
	// Stopped when it reports.
	"stopped": {
		spec:     fmt.Sprintf(oneGroup, 1),
		members:  fleet("1.29.4", oldImage, nil, "prod-1", "prod-2", "prod-3"),
		duration: tenMinutes,
		onUpgrade: func(s *scheduler, _ fleetupdate.UpgradeMember) {
			if s.injected {
				return
			}
			s.injected = true
			s.push(item{at: s.now.Add(5 * time.Minute), key: "stop", make: func(now time.Time) fleetupdate.Event {
				return fleetupdate.Stop{At: now}
			}})
		},
	},
	// Approval gates before the second stage and after its group: notify,
	// a CompleteGate half an hour later, then Completed.
	"gated": {
		spec: `{"strategy": {"stages": [
		    {"name": "canary", "groups": [{"name": "dev"}]},
		    {"name": "prod", "beforeGates": [{"displayName": "change board", "type": "Approval"}],
		     "groups": [{"name": "eu", "afterGates": [{"displayName": "eu smoke tests", "type": "Approval"}]}]}]},
		  "managedClusterUpdate": {"upgrade": {"type": "Full", "kubernetesVersion": "1.30"}, "nodeImageSelection": {"type": "Latest"}}}`,
		members:  fleet("1.29.4", oldImage, nil, "dev-1", "eu-1", "eu-2"),
		duration: tenMinutes,
	},
	// The first success is reported again a minute later (a stale op,
	// before the next upgrade's result): refused, logged, and the run goes
	// on to Completed.
	"rejected": {
		spec:     fmt.Sprintf(oneGroup, 1),
		members:  fleet("1.29.4", oldImage, nil, "prod-1", "prod-2", "prod-3"),
		duration: tenMinutes,
		afterDelivery: func(s *scheduler, ev fleetupdate.Event) {
			done, ok := ev.(fleetupdate.UpgradeSucceeded)
			if !ok || s.injected {
				return
			}
			s.injected = true
			s.push(item{at: s.now.Add(time.Minute), key: "duplicate", make: func(now time.Time) fleetupdate.Event {
				return fleetupdate.UpgradeSucceeded{At: now, Op: done.Op}
			}})
		},
	},
}

func main() {
	loopName := flag.String("loop", "", "the documented loop to run: "+strings.Join(slices.Sorted(maps.Keys(hosts)), ", "))
	scName := flag.String("scenario", "", "completed, failed, skipped, stopped, gated or rejected")
	runName := flag.String("name", "roll-1-30", "the name the loop gives its run")
	flag.Parse()
	host, sc := hosts[*loopName], scenarios[*scName]
	if host == nil || sc.spec == "" {
		flag.Usage()
		os.Exit(2)
	}

	start := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	clock.set(start)
	if err := json.Unmarshal([]byte(sc.spec), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	members = sc.members
	offer := fleetupdate.RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.5"}, NodeImageVersions: []string{oldImage, newImage}}
	catalog = fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": offer}}
	run, err := fleetupdate.New(*runName, spec, members, catalog)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log.SetFlags(0)
	log.SetOutput(logWriter{})

	s := &scheduler{sc: &sc, now: start, run: run, returned: make(chan error), rep: Report{Loop: *loopName, Scenario: *scName}}
	go func() {
		s.loop()
		s.exit()
	}()
	s.returned <- host()
	select {} // the scheduler exits
}

// brief describes an event in a few words: "UpgradeSucceeded 12:10 roll-1-30/prod-1/1".
func brief(ev fleetupdate.Event) string {
	name := strings.TrimPrefix(fmt.Sprintf("%T", ev), "fleetupdate.")
	switch ev := ev.(type) {
	case fleetupdate.Start:
		return name + " " + ev.At.Format("15:04")
	case fleetupdate.Stop:
		return name + " " + ev.At.Format("15:04")
	case fleetupdate.Tick:
		return name + " " + ev.At.Format("15:04")
	case fleetupdate.UpgradeSucceeded:
		return name + " " + ev.At.Format("15:04") + " " + string(ev.Op)
	case fleetupdate.UpgradeFailed:
		return name + " " + ev.At.Format("15:04") + " " + string(ev.Op) + " " + ev.Code
	case fleetupdate.CompleteGate:
		return name + " " + ev.At.Format("15:04") + " " + string(ev.Gate)
	}
	return name
}
