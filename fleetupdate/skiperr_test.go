package fleetupdate

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A member Pending for the catalog, with the error status shows for it, that
// turns out to need nothing is Skipped without that error, so the run still
// passes its invariants and a saved copy loads again.
func TestMemberSkippedAfterWaitingForTheCatalogKeepsNoError(t *testing.T) {
	lagging := catalog()
	lagging.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{k8sFrom}, NodeImageVersions: []string{imgOld}}
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), lagging)
	h.start()
	require.Equal(t, Pending, h.state("a"))
	require.NotNil(t, h.member("a").Status.Error)
	m := member("a", "g")
	m.KubernetesVersion = k8sToFix // upgraded out of band
	h.step(MemberChanged{At: h.now, Member: m})
	assert.Equal(t, Skipped, h.state("a"))
	assert.Nil(t, h.member("a").Status.Error)
	assert.NoError(t, h.run.check())
	var back Run
	require.NoError(t, json.Unmarshal([]byte(mustJSON(t, h.run)), &back))
}
