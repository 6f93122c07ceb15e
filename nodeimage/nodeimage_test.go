package nodeimage

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func mustParse(t testing.TB, s string) Image {
	t.Helper()
	img, err := Parse(s)
	require.NoError(t, err, s)
	return img
}

func TestParseSplitsFromTheRight(t *testing.T) {
	cases := []struct{ in, family, version string }{
		{"AKSUbuntu-2204gen2containerd-202405.27.0", "AKSUbuntu-2204gen2containerd", "202405.27.0"},
		{"AKSUbuntu-2204gen2containerd-202602.13.5", "AKSUbuntu-2204gen2containerd", "202602.13.5"},
		{"AKSAzureLinux-V2gen2-202502.26.0", "AKSAzureLinux-V2gen2", "202502.26.0"},
		{"AKSWindows-2022-containerd-20348.3207.250214", "AKSWindows-2022-containerd", "20348.3207.250214"},
		{"AKSWindows-23H2-gen2-25398.1425.250214", "AKSWindows-23H2-gen2", "25398.1425.250214"},
		{"AKSUbuntu-1804gen2containerd-2021.10.12", "AKSUbuntu-1804gen2containerd", "2021.10.12"},
		{"AKSUbuntu-1804-2020.03.05", "AKSUbuntu-1804", "2020.03.05"}, // a legacy version, not a patch suffix
		{"AKSUbuntu-2204gen2containerd-202410.27.0-2024.12.01", "AKSUbuntu-2204gen2containerd", "202410.27.0-2024.12.01"},
	}
	for _, c := range cases {
		img := mustParse(t, c.in)
		assert.Equal(t, c.family, img.Family, c.in)
		assert.Equal(t, c.version, img.Version.String(), c.in)
		assert.Equal(t, c.in, img.String(), "round trip")
	}
}

func TestParseRejectsGarbageNamingTheInput(t *testing.T) {
	for _, in := range []string{
		"", "AKSUbuntu", "202405.27.0", "-202405.27.0", "AKSUbuntu-", "AKSUbuntu--202405.27.0",
		"AKSUbuntu-2204-202413.27.0", "AKSUbuntu-2204-202405.27", "AKSUbuntu-2204-latest",
		"AKSUbuntu 2204-202405.27.0", "AKSWindows-2022-20348.3207.2502",
		"AKSUbuntu-2204-2023.03.28-2024.12.01", // a suffix needs a YYYYMM.DD.N base
	} {
		_, err := Parse(in)
		if assert.Error(t, err, in) {
			assert.ErrorIs(t, err, ErrInvalidImage)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", in))
		}
	}
}

func cmpImages(t *testing.T, a, b string) int {
	c, err := mustParse(t, a).Compare(mustParse(t, b))
	require.NoError(t, err)
	return c
}

func TestVersionsCompareNumericallyAcrossGrammars(t *testing.T) {
	const f = "AKSUbuntu-2204gen2containerd-"
	// Both grammars were published for this family in March 2023.
	assert.Equal(t, 1, cmpImages(t, f+"2023.03.28", f+"202303.13.0"), "2023.03.28 is later than 202303.13.0")
	assert.Equal(t, -1, cmpImages(t, f+"2023.03.22", f+"202303.22.0"), "same date: legacy first")
	assert.Equal(t, -1, cmpImages(t, f+"202303.06.0", f+"2023.03.22"))
	assert.Equal(t, -1, cmpImages(t, f+"202602.13.0", f+"202602.13.5"), "rebuild counter")
	assert.Equal(t, 1, cmpImages(t, f+"202602.13.10", f+"202602.13.9"), "numeric, not lexical")
	assert.Equal(t, 0, cmpImages(t, f+"202405.27.0", f+"202405.27.00"), "leading zeros")
	const w = "AKSWindows-2019-containerd-"
	assert.Equal(t, -1, cmpImages(t, w+"17763.5329.240110", w+"17763.5329.240202"), "same revision, later rebuild")
	assert.Equal(t, 1, cmpImages(t, w+"17763.5330.240101", w+"17763.5329.240202"), "revision before date")
}

func TestSecurityPatchSuffixOrdersAfterItsBase(t *testing.T) {
	const f = "AKSUbuntu-2204gen2containerd-"
	assert.Equal(t, 1, cmpImages(t, f+"202410.27.0-2024.12.01", f+"202410.27.0"))
	assert.Equal(t, -1, cmpImages(t, f+"202410.27.0-2024.12.01", f+"202410.27.0-2024.12.08"))
	assert.Equal(t, -1, cmpImages(t, f+"202410.27.0-2024.12.01", f+"202411.03.0"), "a newer base wins over any patch")
}

func TestComparingFamiliesIsAnError(t *testing.T) {
	_, err := mustParse(t, "AKSUbuntu-2204gen2containerd-202405.27.0").Compare(mustParse(t, "AKSUbuntu-2404gen2containerd-202405.27.0"))
	assert.ErrorIs(t, err, ErrFamilyMismatch)
}

func TestImageJSONIsTheString(t *testing.T) {
	img := mustParse(t, "AKSWindows-2022-containerd-20348.3207.250214")
	b, err := json.Marshal(img)
	require.NoError(t, err)
	assert.Equal(t, `"AKSWindows-2022-containerd-20348.3207.250214"`, string(b))
	var back Image
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, img, back)
	assert.Error(t, json.Unmarshal([]byte(`"nope"`), &back))
}

const ubuntu = "AKSUbuntu-1804gen2containerd"

func catalog(t testing.TB, m map[string][]string) Catalog {
	t.Helper()
	c, err := NewCatalog(m)
	require.NoError(t, err)
	return c
}

func TestCatalogJSONRoundTrip(t *testing.T) {
	c := catalog(t, map[string][]string{
		"eastus": {ubuntu + "-2021.10.19", ubuntu + "-2021.10.12", "AKSWindows-2022-containerd-20348.3207.250214", ubuntu + "-2021.10.12"},
		"westus": {},
	})
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"eastus":["AKSUbuntu-1804gen2containerd-2021.10.12","AKSUbuntu-1804gen2containerd-2021.10.19","AKSWindows-2022-containerd-20348.3207.250214"],"westus":[]}`, string(b))
	var back Catalog
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, c, back)
	assert.Equal(t, []string{"eastus", "westus"}, back.Regions())

	_, err = NewCatalog(map[string][]string{"eastus": {"garbage"}})
	assert.ErrorContains(t, err, `region "eastus"`)
}

func TestResolveLatestPicksNewestInRegion(t *testing.T) {
	c := catalog(t, map[string][]string{"x": {ubuntu + "-2021.10.12", ubuntu + "-2021.10.19", ubuntu + "-2021.10.05"}})
	img, ok := ResolveLatest(c, "x", ubuntu)
	require.True(t, ok)
	assert.Equal(t, ubuntu+"-2021.10.19", img.String())
	_, ok = ResolveLatest(c, "y", ubuntu)
	assert.False(t, ok)
}

// Fleet API spec: A in region X has …-2021.10.12 as latest, B in region Y has
// …-2021.10.17: "the system will upgrade both node pools to image version
// 'AKSUbuntu-1804gen2containerd-2021.10.12'".
func TestConsistentPicksNewestCommonVersion(t *testing.T) {
	c := catalog(t, map[string][]string{
		"x": {ubuntu + "-2021.10.05", ubuntu + "-2021.10.12"},
		"y": {ubuntu + "-2021.10.05", ubuntu + "-2021.10.12", ubuntu + "-2021.10.17"},
	})
	pools := []Pool{
		{Member: "a", Name: "p1", Region: "x", Image: mustParse(t, ubuntu+"-2021.10.05")},
		{Member: "b", Name: "p1", Region: "y", Image: mustParse(t, ubuntu+"-2021.10.05")},
	}
	sel, un := ResolveConsistent(c, pools)
	assert.Empty(t, un)
	require.Len(t, sel, 1)
	assert.Equal(t, ubuntu+"-2021.10.12", sel[0].String())
	got, ok := sel.Lookup(ubuntu)
	assert.True(t, ok)
	assert.Equal(t, sel[0], got)
}

func TestConsistentUnresolvedWhenRegionsShareNoVersion(t *testing.T) {
	c := catalog(t, map[string][]string{
		"fast": {ubuntu + "-2021.11.01", ubuntu + "-2021.11.08", ubuntu + "-2021.11.15", ubuntu + "-2021.11.22"},
		"slow": {ubuntu + "-2021.10.05", ubuntu + "-2021.10.12", ubuntu + "-2021.10.19", ubuntu + "-2021.10.26"},
	})
	sel, un := ResolveConsistent(c, []Pool{
		{Member: "b", Name: "p", Region: "slow", Image: mustParse(t, ubuntu+"-2021.10.05")},
		{Member: "a", Name: "p", Region: "fast", Image: mustParse(t, ubuntu+"-2021.10.05")},
	})
	assert.Empty(t, sel)
	require.Len(t, un, 2)
	assert.Equal(t, "a", un[0].Pool.Member, "sorted by member")
	assert.Contains(t, un[0].Reason, "no version of node image family")
	assert.Contains(t, un[0].Reason, "fast, slow")
}

func TestConsistentLeavesOutRegionWithoutTheFamily(t *testing.T) {
	const win = "AKSWindows-2022-containerd"
	c := catalog(t, map[string][]string{
		"x": {ubuntu + "-2021.10.12", win + "-20348.3207.250214"},
		"y": {ubuntu + "-2021.10.12"},
	})
	sel, un := ResolveConsistent(c, []Pool{
		{Member: "a", Name: "lin", Region: "x", Image: mustParse(t, ubuntu+"-2021.10.05")},
		{Member: "a", Name: "win", Region: "x", Image: mustParse(t, win+"-20348.3000.250101")},
		{Member: "b", Name: "win", Region: "y", Image: mustParse(t, win+"-20348.3000.250101")},
	})
	assert.Equal(t, Selection{mustParse(t, ubuntu+"-2021.10.12"), mustParse(t, win+"-20348.3207.250214")}, sel, "sorted by family")
	require.Len(t, un, 1)
	assert.Equal(t, "b", un[0].Pool.Member)
	assert.Equal(t, `node image family "AKSWindows-2022-containerd" is not offered in region "y"`, un[0].Reason)
}

func TestCustomAllowsOneVersionPerFamily(t *testing.T) {
	sel, err := NewCustom([]string{"AKSWindows-2022-containerd-20348.3207.250214", ubuntu + "-2021.10.12"})
	require.NoError(t, err)
	assert.Equal(t, ubuntu, sel[0].Family, "sorted by family")
	_, ok := sel.Lookup("AKSUbuntu-2204gen2containerd")
	assert.False(t, ok, "families without a version are not upgraded")

	_, err = NewCustom([]string{ubuntu + "-2021.10.12", ubuntu + "-2021.10.19"})
	assert.ErrorContains(t, err, "at most one version per family")
	_, err = NewCustom([]string{"bad"})
	assert.ErrorIs(t, err, ErrInvalidImage)
}

func TestDecidePerPool(t *testing.T) {
	c := catalog(t, map[string][]string{"x": {ubuntu + "-2021.10.12"}, "y": {ubuntu + "-2021.10.05"}})
	target := mustParse(t, ubuntu+"-2021.10.12")
	pool := func(region, v string) Pool {
		return Pool{Member: "m", Name: "np", Region: region, Image: mustParse(t, ubuntu+"-"+v)}
	}
	assert.Equal(t, Decision{Action: Upgrade, Target: target}, Decide(c, pool("x", "2021.10.05"), target))

	d := Decide(c, pool("y", "2021.10.12"), target)
	assert.Equal(t, AlreadyAtTarget, d.Action, "at target, even where the region lacks it")
	assert.Equal(t, `current node image version "AKSUbuntu-1804gen2containerd-2021.10.12" of agent pool "np" is already at or ahead of target upgrade version "AKSUbuntu-1804gen2containerd-2021.10.12"`, d.Message)
	assert.Equal(t, AlreadyAtTarget, Decide(c, pool("x", "2021.10.19"), target).Action, "ahead")

	d = Decide(c, pool("y", "2021.10.05"), target)
	assert.Equal(t, NotInRegion, d.Action)
	assert.Equal(t, `target upgrade node image version "AKSUbuntu-1804gen2containerd-2021.10.12" for agent pool "np" is not available in region "y"`, d.Message)

	assert.Equal(t, NoTarget, Decide(c, pool("x", "2021.10.05"), Image{}).Action)
	assert.Equal(t, NoTarget, Decide(c, pool("x", "2021.10.05"), mustParse(t, "AKSUbuntu-2204-202405.27.0")).Action)
	assert.Equal(t, "NotInRegion", NotInRegion.String())
}

// TestDecideMessagesAsFmtWritesThem holds Decide's messages, built without
// fmt, to the fmt.Sprintf sentences they replaced, on any names: quotes,
// non-ASCII and invalid UTF-8 included.
func TestDecideMessagesAsFmtWritesThem(t *testing.T) {
	c := catalog(t, map[string][]string{"x": {ubuntu + "-2021.10.12"}})
	var images []Image
	for _, v := range []string{"2021.10.05", "2021.10.12", "2021.10.19"} {
		images = append(images, mustParse(t, ubuntu+"-"+v))
	}
	anyText := rapid.OneOf(rapid.String(), rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }))
	rapid.Check(t, func(t *rapid.T) {
		p := Pool{Member: "m", Name: anyText.Draw(t, "name"), Region: rapid.SampledFrom([]string{"x", "y"}).Draw(t, "region")}
		p.Image = rapid.SampledFrom(images).Draw(t, "image")
		target := images[1]
		switch rapid.IntRange(0, 2).Draw(t, "family") {
		case 1:
			target = Image{}
		case 2:
			p.Image.Family = anyText.Draw(t, "poolFamily")
			target.Family = p.Image.Family
		}
		var want string
		got := Decide(c, p, target)
		switch got.Action {
		case NoTarget:
			want = fmt.Sprintf("no target node image version for family %q of agent pool %q", p.Image.Family, p.Name)
		case AlreadyAtTarget:
			want = fmt.Sprintf("current node image version %q of agent pool %q is already at or ahead of target upgrade version %q", p.Image, p.Name, target)
		case NotInRegion:
			want = fmt.Sprintf("target upgrade node image version %q for agent pool %q is not available in region %q", target, p.Name, p.Region)
		}
		if got.Message != want {
			t.Fatalf("got  %s\nwant %s", got.Message, want)
		}
	})
}

// The oracle: for every family, intersect the explicit version sets of the
// regions holding pools of it (regions without the family left out), then
// take the maximum.
func TestConsistentMatchesIntersectThenMax(t *testing.T) {
	families := []string{"AKSUbuntu-2204gen2containerd", "AKSAzureLinux-V2gen2", "AKSWindows-2022-containerd"}
	release := func(f string, i int) string { // the i-th release of family f, weekly (Windows monthly)
		if f == "AKSWindows-2022-containerd" {
			return fmt.Sprintf("%s-20348.%d.25%02d01", f, 3000+i, 1+i%12)
		}
		return fmt.Sprintf("%s-2025%02d.%02d.0", f, 1+i/4, 1+7*(i%4))
	}
	rapid.Check(t, func(t *rapid.T) {
		nRegions := rapid.IntRange(1, 6).Draw(t, "regions")
		offered := map[string][]string{}
		sets := map[string]map[string]map[int]bool{} // region → family → release indexes
		for r := 0; r < nRegions; r++ {
			region := fmt.Sprintf("r%d", r)
			sets[region] = map[string]map[int]bool{}
			offered[region] = []string{}
			for _, f := range families {
				if rapid.IntRange(0, 5).Draw(t, "lacks") == 0 {
					continue // this region does not offer f at all
				}
				sets[region][f] = map[int]bool{}
				// Usually a window of up to four releases; sometimes a random set.
				first := rapid.IntRange(0, 12).Draw(t, "first")
				n := rapid.IntRange(1, 4).Draw(t, "n")
				for i := first; i < first+n; i++ {
					sets[region][f][i] = true
				}
				for _, i := range rapid.SliceOfN(rapid.IntRange(0, 16), 0, 2).Draw(t, "extra") {
					sets[region][f][i] = true
				}
				for i := range sets[region][f] {
					offered[region] = append(offered[region], release(f, i))
				}
			}
		}
		c, err := NewCatalog(offered)
		if err != nil {
			t.Fatal(err)
		}
		var pools []Pool
		for i := rapid.IntRange(0, 12).Draw(t, "pools"); i > 0; i-- {
			f := rapid.SampledFrom(families).Draw(t, "family")
			img, _ := Parse(release(f, 0))
			pools = append(pools, Pool{Member: fmt.Sprintf("m%d", i), Name: "p", Region: fmt.Sprintf("r%d", rapid.IntRange(0, nRegions-1).Draw(t, "region")), Image: img})
		}
		sel, un := ResolveConsistent(c, pools)

		var want Selection
		wantUnresolved := map[string]bool{}
		for _, f := range families {
			var common map[int]bool
			holders := 0
			for _, p := range pools {
				if p.Image.Family != f {
					continue
				}
				holders++
				s, ok := sets[p.Region][f]
				if !ok {
					wantUnresolved[p.Member] = true
					continue
				}
				if common == nil {
					common = map[int]bool{}
					for i := range s {
						common[i] = true
					}
				}
				for i := range common {
					if !s[i] {
						delete(common, i)
					}
				}
			}
			if holders == 0 || common == nil {
				continue
			}
			best := -1
			for i := range common {
				best = max(best, i)
			}
			if best < 0 {
				for _, p := range pools {
					if p.Image.Family == f && sets[p.Region][f] != nil {
						wantUnresolved[p.Member] = true
					}
				}
				continue
			}
			img, _ := Parse(release(f, best))
			want = append(want, img)
		}
		sort.Slice(want, func(i, j int) bool { return want[i].Family < want[j].Family })
		if !slices.Equal(want, sel) {
			t.Fatalf("selection %v, oracle %v", sel, want)
		}
		got := map[string]bool{}
		for _, u := range un {
			got[u.Pool.Member] = true
		}
		if len(got) != len(wantUnresolved) {
			t.Fatalf("unresolved %v, oracle %v", un, wantUnresolved)
		}
		for m := range wantUnresolved {
			if !got[m] {
				t.Fatalf("unresolved %v, oracle %v", un, wantUnresolved)
			}
		}
	})
}

// Every accepted string round-trips through String, and Compare is
// consistent with itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"AKSUbuntu-2204gen2containerd-202405.27.0", "AKSWindows-2022-containerd-20348.3207.250214",
		"AKSUbuntu-1804-2020.03.05", "AKSUbuntu-2204gen2containerd-202410.27.0-2024.12.01", "x-1.2.3", "--", "a-000000.00.0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		img, err := Parse(s)
		if err != nil {
			return
		}
		if img.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, img.String())
		}
		again, err := Parse(img.String())
		if err != nil || again != img {
			t.Fatalf("reparse of %q: %v %v", s, again, err)
		}
		if c, err := img.Compare(img); err != nil || c != 0 {
			t.Fatalf("%q compares %d to itself (%v)", s, c, err)
		}
	})
}

func BenchmarkResolveConsistent(b *testing.B) {
	// 1,000 clusters × 5 pools over 60 regions; each region offers the last
	// four weekly releases of three families, staggered like a regional rollout.
	families := []string{"AKSUbuntu-2204gen2containerd", "AKSAzureLinux-V2gen2", "AKSUbuntu-2204gen2arm64containerd", "AKSWindows-2022-containerd", "AKSAzureLinux-V3gen2"}
	release := func(f string, i int) string {
		if f == "AKSWindows-2022-containerd" {
			return fmt.Sprintf("%s-20348.%d.25%02d01", f, 3000+i, 1+i%12)
		}
		return fmt.Sprintf("%s-2025%02d.%02d.0", f, 1+i/4, 1+7*(i%4))
	}
	regions := map[string][]string{}
	for r := range 60 {
		lag := r % 3
		for _, f := range families {
			for i := 10 - lag; i < 14-lag; i++ {
				regions[fmt.Sprintf("region-%02d", r)] = append(regions[fmt.Sprintf("region-%02d", r)], release(f, i))
			}
		}
	}
	c := catalog(b, regions)
	var pools []Pool
	for m := range 1000 {
		for p, f := range families {
			img := mustParse(b, release(f, 8))
			pools = append(pools, Pool{Member: fmt.Sprintf("member-%04d", m), Name: fmt.Sprintf("pool%d", p), Region: fmt.Sprintf("region-%02d", m%60), Image: img})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		sel, un := ResolveConsistent(c, pools)
		if len(sel) != len(families) || len(un) != 0 {
			b.Fatalf("selection %v, unresolved %d", sel, len(un))
		}
	}
}

// Of several bad regions, the error always names the first by name: map
// order must not reach the message.
func TestNewCatalogNamesTheSameBadRegionEveryTime(t *testing.T) {
	regions := map[string][]string{}
	for _, r := range []string{"westus", "eastus", "northeurope", "uksouth", "japaneast", "brazilsouth"} {
		regions[r] = []string{"not-an-image"}
	}
	for range 20 {
		_, err := NewCatalog(regions)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `region "brazilsouth"`)
	}
}
