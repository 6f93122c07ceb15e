package fleetupdate

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/window"
)

// "New deep-copies its inputs": a member's labels too. They choose its
// group at New and are saved with the run, so a caller reusing its map
// changed the saved run, and a run saved after that could load into other
// groups, or not at all.
func TestRunKeepsItsOwnLabels(t *testing.T) {
	ms := members("", "a1", "b1")
	ms[0].Labels = map[string]string{"ring": "canary"}
	ms[1].Labels = map[string]string{"ring": "prod"}
	spec := Spec{Strategy: strategy(
		Stage{Name: "canary", MemberSelector: &MemberSelector{ByLabel: "ring=canary"}},
		Stage{Name: "prod", MemberSelector: &MemberSelector{ByLabel: "ring=prod"}},
	), ManagedClusterUpdate: full(k8sTo)}
	r, err := New("run-1", spec, ms, catalog())
	require.NoError(t, err)
	saved := mustJSON(t, r)
	ms[0].Labels["ring"] = "prod"
	require.Equal(t, saved, mustJSON(t, r), "changing a label given to New changed the run")

	next, _, err := Step(r, Start{At: t0})
	require.NoError(t, err)
	m := member("b1", "")
	m.Labels = map[string]string{"ring": "prod"}
	changed, _, err := Step(next, MemberChanged{At: t0, Member: m})
	require.NoError(t, err)
	saved = mustJSON(t, changed)
	m.Labels["ring"] = "canary"
	require.Equal(t, saved, mustJSON(t, changed), "changing a label given in MemberChanged changed the run")
}

// scramble changes, in place, everything reachable from v through pointers,
// slices and maps: what a careless caller could do to what it gave or got.
func scramble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scramble(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() || v.Field(i).Kind() == reflect.Pointer || v.Field(i).Kind() == reflect.Slice || v.Field(i).Kind() == reflect.Map {
				scramble(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			scramble(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			scramble(e)
			v.SetMapIndex(k, e)
		}
		if v.Type().Key().Kind() == reflect.String {
			v.SetMapIndex(reflect.ValueOf("scrambled").Convert(v.Type().Key()), reflect.New(v.Type().Elem()).Elem())
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(v.String() + "~")
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		if v.CanSet() {
			v.SetInt(v.Int() + 1)
		}
	case reflect.Bool:
		if v.CanSet() {
			v.SetBool(!v.Bool())
		}
	}
}

// Everything given to New and Step and everything got back, scrambled after
// the call, changes nothing in any version of the run.
func TestScramblingInputsAndOutputsChangesNoRun(t *testing.T) {
	ms := append(members("g1", "a1", "a2"), members("g2", "b1")...)
	ms[0].AutoUpgradeWindow = dailyWindow("00:00", 24)
	ms[0].AutoUpgradeWindow.NotAllowedDates = []window.DateSpan{{Start: "2027-01-01", End: "2027-01-02"}}
	ms[0].Labels = map[string]string{"ring": "0"}
	ms[1].NodePools = append(ms[1].NodePools, NodePool{Name: "user", NodeImageVersion: imgOld})
	spec := Spec{Strategy: strategy(
		Stage{Name: "s1", Groups: []Group{{Name: "g1", MaxConcurrency: "2", BeforeGates: []GateConfiguration{scheduled(window.Saturday, "10:00", "+01:00")}}, {Name: "g2", AfterGates: []GateConfiguration{approval("ok")}}},
			AfterStageWaitInSeconds: 60, AfterGates: []GateConfiguration{approval("done")}},
	), ManagedClusterUpdate: full(k8sTo)}
	spec.ManagedClusterUpdate.NodeImageSelection = &NodeImageSelection{Type: Consistent}
	cat := catalog()
	r, err := New("run-1", spec, ms, cat)
	require.NoError(t, err)
	var versions []Run
	var saved []string
	keep := func(r Run) {
		versions = append(versions, r)
		saved = append(saved, mustJSON(t, r)+mustJSON(t, r.Status()))
	}
	keep(r)
	scramble(reflect.ValueOf(&ms))
	scramble(reflect.ValueOf(&spec))
	scramble(reflect.ValueOf(&cat))
	events := []Event{
		Start{At: t0},
		MemberChanged{At: t0, Member: func() Member {
			m := member("a2", "g1")
			m.Labels = map[string]string{"x": "y"}
			m.AutoUpgradeWindow = dailyWindow("01:00", 4)
			return m
		}()},
		CatalogChanged{At: t0, Catalog: catalog()},
		Skip{At: t0, Targets: []SkipTarget{{TargetMember, "a2"}}},
		CompleteGate{At: t0, Gate: "run-1/s1/g1/Before/0"},
	}
	for _, e := range events {
		next, cmds, err := Step(r, e)
		require.NoError(t, err, "%T", e)
		keep(next)
		ev := reflect.New(reflect.TypeOf(e))
		ev.Elem().Set(reflect.ValueOf(e))
		scramble(ev) // the event's own copy: its slices and maps are shared with e
		scramble(reflect.ValueOf(&cmds))
		for _, got := range []any{next.Status(), next.Overview(), next.Spec(), next.Outstanding(), next.InFlight()} {
			p := reflect.New(reflect.TypeOf(got))
			p.Elem().Set(reflect.ValueOf(got))
			scramble(p)
		}
		if m, ok := next.Member("a1"); ok {
			scramble(reflect.ValueOf(&m))
		}
		r = next
		for i, v := range versions {
			require.Equal(t, saved[i], mustJSON(t, v)+mustJSON(t, v.Status()), "version %d changed after %T", i, e)
		}
	}
}
