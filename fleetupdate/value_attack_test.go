package fleetupdate

import (
	"testing"

	"github.com/stretchr/testify/require"
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
