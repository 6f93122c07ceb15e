package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// The kill test's scenario: 300 members in 3 stages of 4 groups, windows,
// after-stage waits, concurrency up to 8.
const (
	killMembers   = 300
	killStages    = 3
	killGroups    = 4
	killSnapEvery = 16 // so that kills land around snapshots and compactions too
	hostDirEnv    = "FLEETKIT_JOURNAL_HOST_DIR"
	hostPauseEnv  = "FLEETKIT_JOURNAL_HOST_PAUSE"
	hostFoldEnv   = "FLEETKIT_JOURNAL_HOST_FOLD"     // foldBytes, to fold every few events
	hostCrashEnv  = "FLEETKIT_JOURNAL_HOST_CRASH_AT" // "point n": block the n-th time crashHook reaches point
	hostStopEnv   = "FLEETKIT_JOURNAL_HOST_STOP"     // Close and exit (status 3) after this many steps
)

// fileCluster is the kill test's cluster: it records each op the first time
// it is sent, with its completion time, in an append-only file fsynced per
// record, so that it outlives the host processes.
type fileCluster struct {
	f   *os.File
	ops map[fleetupdate.OpID]clusterOp
}

type clusterOp struct {
	Op     fleetupdate.OpID `json:"op"`
	Member string           `json:"member"`
	Sent   time.Time        `json:"sent"`
	Done   time.Time        `json:"done"`
}

func openFileCluster(path string) (*fileCluster, error) {
	ops, good, err := readClusterLog(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// A record cut short by a kill was never acknowledged: drop it.
	if err := f.Truncate(good); err != nil {
		return nil, err
	}
	if _, err := f.Seek(good, 0); err != nil {
		return nil, err
	}
	c := &fileCluster{f: f, ops: map[fleetupdate.OpID]clusterOp{}}
	for _, o := range ops {
		c.ops[o.Op] = o
	}
	return c, nil
}

// readClusterLog returns the complete records of the log and where they end.
func readClusterLog(path string) ([]clusterOp, int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var ops []clusterOp
	good := int64(0)
	for {
		i := bytes.IndexByte(b[good:], '\n')
		if i < 0 {
			return ops, good, nil
		}
		var o clusterOp
		if err := json.Unmarshal(b[good:good+int64(i)], &o); err != nil {
			return nil, 0, fmt.Errorf("cluster log at byte %d: %w", good, err)
		}
		ops = append(ops, o)
		good += int64(i) + 1
	}
}

func (c *fileCluster) send(u fleetupdate.UpgradeMember, now time.Time) time.Time {
	if o, ok := c.ops[u.Op]; ok {
		return o.Done
	}
	o := clusterOp{Op: u.Op, Member: u.Member, Sent: now, Done: now.Add(upgradeTime(u.Member))}
	b, _ := json.Marshal(o)
	if _, err := c.f.Write(append(b, '\n')); err != nil {
		panic(err)
	}
	if err := c.f.Sync(); err != nil {
		panic(err)
	}
	c.ops[u.Op] = o
	return o.Done
}

// TestHostProcess is the host the kill test runs as a child process: it
// opens the journal, creates or loads the run, performs Outstanding, and
// drives the run to its end on virtual time, printing a line after each
// committed step, before performing its commands. With hostPauseEnv=N it
// stops after line N (committed, commands not performed) and waits to be
// killed.
func TestHostProcess(t *testing.T) {
	dir := os.Getenv(hostDirEnv)
	if dir == "" {
		t.Skip("the kill test runs this as its host process")
	}
	pause, _ := strconv.Atoi(os.Getenv(hostPauseEnv))
	if n, err := strconv.ParseInt(os.Getenv(hostFoldEnv), 10, 64); err == nil {
		foldBytes = n
	}
	if v := os.Getenv(hostCrashEnv); v != "" {
		i := strings.LastIndexByte(v, ' ')
		point := v[:i]
		n, _ := strconv.Atoi(v[i+1:])
		crashHook = func(p string) error {
			if p == point {
				if n--; n == 0 {
					fmt.Println("at " + p)
					_, _ = os.Stdin.Read(make([]byte, 1)) // blocks: the parent kills
				}
			}
			return nil
		}
	}
	if err := hostMain(t, dir, pause); err != nil {
		t.Fatal(err)
	}
	fmt.Println("done")
}

func hostMain(t *testing.T, dir string, pause int) error {
	s, err := Open(filepath.Join(dir, "fleet.db"), &Options{SnapshotEvery: killSnapEvery})
	if err != nil {
		return err
	}
	defer s.Close()
	j, err := s.Load("roll")
	if errors.Is(err, ErrNotFound) {
		spec, ms := fleet(killMembers, killStages, killGroups)
		j, err = s.Create("roll", spec, ms, testCatalog())
	}
	if err != nil {
		return err
	}
	cl, err := openFileCluster(filepath.Join(dir, "cluster.log"))
	if err != nil {
		return err
	}
	run := j.Run()
	now := run.Clock()
	if run.State() == fleetupdate.NotStarted {
		now = t0
	}
	h := newSim(now, cl)
	h.perform(run.Outstanding()) // host contract, rule 5
	lines := 0
	stop, _ := strconv.Atoi(os.Getenv(hostStopEnv))
	h.drive(t, run, j.Step, func(r fleetupdate.Run, e fleetupdate.Event) {
		lines++
		fmt.Printf("step %d %s %T\n", lines, h.now.Format(time.RFC3339), e)
		if lines == pause {
			_, _ = os.Stdin.Read(make([]byte, 1)) // blocks: the parent never writes
		}
		if lines == stop {
			// A host that shuts down cleanly between a step and its
			// commands; the next opens a closed journal.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			fmt.Println("stopped")
			os.Exit(3)
		}
	})
	return nil
}

// TestKill9 runs the host as a real process, kills it with SIGKILL at
// random moments (seeded) at least 50 times, restarting it each time, until
// the run is done. Half the kills come right after a step is committed and
// before its commands are performed; the others at whatever the host is
// doing when the signal lands (committing, snapshotting, sending upgrades,
// starting up). The run must end with the statuses of an uninterrupted run,
// every upgrade sent under one op id, at the same time, attempt 1.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a few hundred processes")
	}
	seed := uint64(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC).Unix())
	if s := os.Getenv("FLEETKIT_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	st := killRun(t, seed, false)
	assert.GreaterOrEqual(t, st.kills, 50)
}

// TestKill9InFolds is TestKill9 with the log folded into the database
// every few events, and kills aimed at where the database and the log file
// are out of step: after a fold's commit (a fold by size, a snapshot's, the
// one in Open) before the new log file is in place, in Close after its
// commit, and at the first Open after a host closed the journal cleanly.
// FLEETKIT_KILL_SEEDS=n runs n seeds (default 3), from FLEETKIT_KILL_SEED
// (default 1).
func TestKill9InFolds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a few hundred processes")
	}
	seeds := 3
	if s := os.Getenv("FLEETKIT_KILL_SEEDS"); s != "" {
		seeds, _ = strconv.Atoi(s)
	}
	first := uint64(1)
	if s := os.Getenv("FLEETKIT_KILL_SEED"); s != "" {
		first, _ = strconv.ParseUint(s, 10, 64)
	}
	var total killStats
	for i := range seeds {
		st := killRun(t, first+uint64(i), true)
		total.kills += st.kills
		total.aimed += st.aimed
		total.stops += st.stops
	}
	t.Logf("%d seeds: %d kills (%d where the database and log file are out of step), %d clean stops", seeds, total.kills, total.aimed, total.stops)
	assert.GreaterOrEqual(t, total.kills, 30*seeds)
	assert.GreaterOrEqual(t, total.aimed, 10*seeds)
}

type killStats struct{ kills, aimed, stops int }

// killRun runs the host in dir until the run is done, killing it at
// moments chosen by seed, and checks the run and the upgrades it sent
// against an uninterrupted run. With folds, the log is folded every few
// events and some kills are aimed at crashHook's points, and some hosts
// stop cleanly instead.
func killRun(t *testing.T, seed uint64, folds bool) killStats {
	t.Logf("seed %d (FLEETKIT_KILL_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	spec, ms := fleet(killMembers, killStages, killGroups)
	ref, err := fleetupdate.New("roll", spec, ms, testCatalog())
	require.NoError(t, err)
	refCluster := memCluster{}
	ref, refEvents := newSim(t0, refCluster).drive(t, ref, memStep(&ref), nil)
	require.Equal(t, fleetupdate.Completed, ref.State())

	dir := t.TempDir()
	var st killStats
	paused, starts, lines := 0, 0, 0
	for done := false; !done; starts++ {
		require.Less(t, starts, 1000, "the run does not finish")
		mode := rng.IntN(10)
		after := 1 + rng.IntN(8) // lines before the kill
		cmd := exec.Command(os.Args[0], "-test.run=^TestHostProcess$")
		cmd.Env = append(os.Environ(), hostDirEnv+"="+dir)
		if folds {
			cmd.Env = append(cmd.Env, hostFoldEnv+"=1500") // about 8 events
			switch mode {
			case 3, 4: // after a commit, before its new log file
				cmd.Env = append(cmd.Env, fmt.Sprintf("%s=new log %d", hostCrashEnv, 1+rng.IntN(4)))
			case 5: // in Close, after its commit
				cmd.Env = append(cmd.Env, hostCrashEnv+"=close 1", fmt.Sprintf("%s=%d", hostStopEnv, after))
			case 6: // a clean stop
				cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", hostStopEnv, after))
			}
		}
		if mode < 3 || !folds && mode < 5 {
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", hostPauseEnv, after))
		}
		stdin, err := cmd.StdinPipe() // never written: a paused host blocks on it
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		killed, stopped := false, false
		kill := func() {
			require.NoError(t, cmd.Process.Kill())
			killed = true
			st.kills++
		}
		if mode == 9 {
			kill() // while it starts: opening, creating, loading, re-sending
		}
		sc := bufio.NewScanner(out)
		var other strings.Builder // what the host said besides steps
		n := 0
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "step "):
				n++
				lines++
				if !killed && n == after && (!folds || mode < 3 || mode == 7 || mode == 8) {
					if mode < 3 || !folds && mode < 5 {
						paused++
					}
					kill()
				}
			case strings.HasPrefix(line, "at "):
				if !killed {
					st.aimed++
					kill()
				}
			case line == "stopped":
				stopped = true
			case line == "done":
				done = true
			default:
				other.WriteString(line + "\n")
			}
		}
		err = cmd.Wait()
		stdin.Close()
		switch {
		case killed:
			done = false // killed after printing done: start once more
		case stopped:
			st.stops++
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee) && ee.ExitCode() == 3, "host stopped badly (%v):\n%s%s", err, other.String(), stderr.String())
		default:
			require.NoError(t, err, "host exited badly:\n%s%s", other.String(), stderr.String())
			require.True(t, done, "host exited without finishing")
		}
	}
	t.Logf("%d starts, %d kills (%d right after a commit, before its commands; %d aimed), %d clean stops, %d steps printed, %d events in an uninterrupted run",
		starts, st.kills, paused, st.aimed, st.stops, lines, len(refEvents))

	s, err := Open(filepath.Join(dir, "fleet.db"), &Options{LockTimeout: -1})
	require.NoError(t, err)
	defer s.Close()
	j, err := s.Load("roll")
	require.NoError(t, err)
	assert.True(t, j.Run().Done())
	assert.Equal(t, statusJSON(t, ref), statusJSON(t, j.Run()))

	ops, _, err := readClusterLog(filepath.Join(dir, "cluster.log"))
	require.NoError(t, err)
	byMember := map[string]fleetupdate.OpID{}
	sent := map[fleetupdate.OpID]bool{}
	for _, o := range ops {
		assert.False(t, sent[o.Op], "op %s recorded twice", o.Op)
		sent[o.Op] = true
		if prev, ok := byMember[o.Member]; ok {
			t.Errorf("member %s upgraded under two op ids: %s and %s", o.Member, prev, o.Op)
		}
		byMember[o.Member] = o.Op
		assert.True(t, strings.HasSuffix(string(o.Op), "/1"), "op %s is not attempt 1", o.Op)
		assert.Equal(t, refCluster[o.Op], o.Done, "op %s completes when it does uninterrupted", o.Op)
	}
	assert.Len(t, ops, len(refCluster), "the same upgrades as uninterrupted")
	return st
}

// A host process holds the file: another process (here, the test) cannot
// open it, and can once that host is gone.
func TestFileLockedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostProcess$")
	cmd.Env = append(os.Environ(), hostDirEnv+"="+dir, hostPauseEnv+"=1")
	stdin, err := cmd.StdinPipe() // never written: the host stays paused
	require.NoError(t, err)
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	require.True(t, sc.Scan(), "the host printed its first step")

	path := filepath.Join(dir, "fleet.db")
	_, err = Open(path, &Options{LockTimeout: -1})
	require.ErrorIs(t, err, ErrLocked)
	assert.ErrorContains(t, err, path)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	s, err := Open(path, &Options{LockTimeout: -1})
	require.NoError(t, err)
	defer s.Close()
	j, err := s.Load("roll")
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Running, j.Run().State(), "the host's Start was committed")
}
