package fake_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fake"
)

const day = 24 * time.Hour

var train = fake.NewReleaseTrain(fake.TrainOptions{Start: fake.GenEpoch, Stop: fake.GenEpoch.AddDate(0, 6, 0)})

func offered(rel autoupgrade.Releases, region, version string) (ok, preview bool) {
	for _, k := range rel.Regions[region].KubernetesVersions {
		if k.Version == version {
			return true, k.IsPreview
		}
	}
	return false, false
}

func release(t *testing.T, version string) fake.KubernetesRelease {
	t.Helper()
	i := slices.IndexFunc(train.Kubernetes, func(r fake.KubernetesRelease) bool { return r.Version == version })
	require.GreaterOrEqual(t, i, 0, version)
	return train.Kubernetes[i]
}

// node-images.md: releases "can take up to two weeks" to reach every region.
func TestTrainRollsReleasesOutRegionByRegion(t *testing.T) {
	r := release(t, "1.30.5")
	first, last := train.Regions[0], train.Regions[len(train.Regions)-1]
	ok, _ := offered(train.At(r.GA), first, "1.30.5")
	assert.True(t, ok, "the first region has it when it is published")
	ok, _ = offered(train.At(r.GA), last, "1.30.5")
	assert.False(t, ok, "the last one does not")
	ok, _ = offered(train.At(r.GA.Add(fake.DefaultRollout)), last, "1.30.5")
	assert.True(t, ok, "two weeks later it does")
}

// AKS: a new minor is a preview first, then GA.
func TestTrainMinorIsAPreviewBeforeItsGA(t *testing.T) {
	pre, ga := release(t, "1.32.0"), release(t, "1.32.1")
	during := train.At(pre.Preview.Add(fake.DefaultRollout))
	ok, preview := offered(during, "eastus", "1.32.0")
	assert.True(t, ok && preview)
	assert.True(t, ga.GA.After(pre.Preview))
	after := train.At(ga.GA.Add(fake.DefaultRollout))
	ok, preview = offered(after, "eastus", "1.32.1")
	assert.True(t, ok && !preview)
	ok, _ = offered(after, "eastus", "1.32.0")
	assert.False(t, ok, "the preview is gone once the minor is GA")
}

// AKS supported-kubernetes-versions.md: a few patches per minor, three GA minors (and N-3
// in platform support), LTS minors kept.
func TestTrainOffersAFewPatchesOfEachSupportedMinor(t *testing.T) {
	for d := 0; d <= 180; d += 15 {
		minors := map[string]int{}
		for _, k := range train.At(fake.GenEpoch.Add(time.Duration(d) * day)).Regions["eastus"].KubernetesVersions {
			minors[k.Version[:strings.LastIndex(k.Version, ".")]]++
		}
		assert.Contains(t, minors, "1.27", "the LTS minor stays")
		for m, n := range minors {
			assert.LessOrEqual(t, n, 3, "day %d, minor %s", d, m)
		}
		assert.LessOrEqual(t, len(minors), 6, "day %d: %v", d, minors)
	}
}

// node-images.md: "Linux node images are released weekly, and Windows node images are
// released monthly"; Fleet: "only valid for 90 days from their original publish date".
func TestTrainNodeImagesAreWeeklyOrMonthlyAndExpireAfter90Days(t *testing.T) {
	at := fake.GenEpoch.AddDate(0, 2, 0)
	imgs := train.At(at.Add(fake.DefaultRollout)).Regions[train.Regions[len(train.Regions)-1]].NodeImageVersions
	count := map[string]int{}
	for _, r := range train.NodeImages {
		if slices.Contains(imgs, r.Image) {
			assert.Less(t, at.Add(fake.DefaultRollout).Sub(r.Published), fake.ImageLifetime, r.Image)
			count[r.Image[:strings.LastIndex(r.Image, "-")]]++
		}
	}
	// The last region holds what was published between 90 days and two weeks ago.
	assert.Equal(t, map[string]int{"AKSUbuntu-2204gen2containerd": 11, "AKSAzureLinux-V2gen2": 11, "AKSWindows-2022-containerd": 3}, count)
}

func TestTrainChangesListsEveryMomentWhatAKSOffersChanges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tr := fake.ReleaseTrains().Draw(t, "train")
		from := fake.GenEpoch.Add(time.Duration(rapid.IntRange(-30, 150).Draw(t, "from")) * day)
		to := from.Add(time.Duration(rapid.IntRange(1, 30).Draw(t, "days")) * day)
		changes := tr.Changes(from, to)
		for _, c := range changes {
			if reflect.DeepEqual(tr.At(c), tr.At(c.Add(-time.Nanosecond))) {
				t.Fatalf("nothing changes at %s", c)
			}
		}
		// From one change to the next nothing does.
		points := append(append([]time.Time{from}, changes...), to)
		for i := 1; i < len(points); i++ {
			a, b := points[i-1], points[i]
			if !a.Before(b) {
				continue
			}
			mid := a.Add(b.Sub(a) / 2)
			if !reflect.DeepEqual(tr.At(a), tr.At(mid)) || !reflect.DeepEqual(tr.At(mid), tr.At(b.Add(-time.Nanosecond))) {
				t.Fatalf("a change between %s and %s is not listed", a, b)
			}
		}
	})
}

func TestTrainValidates(t *testing.T) {
	require.NoError(t, train.Validate())
	bad := *train
	bad.Kubernetes = append(slices.Clone(train.Kubernetes), fake.KubernetesRelease{Version: "1.30"})
	assert.ErrorContains(t, bad.Validate(), `kubernetes release "1.30": want major.minor.patch`)
}
