package kversion

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func v(s string) Version {
	x, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return x
}

func TestParseAcceptsAzureCLIPattern(t *testing.T) {
	assert.Equal(t, Version{1, 30, 0, false}, v("1.30"))
	assert.Equal(t, Version{1, 30, 5, true}, v("1.30.5"))
	assert.Equal(t, Version{1, 30, 5, true}, v("v1.30.5"))
	assert.Equal(t, Version{1, 30, 5, true}, v("V1.30.5"))
	for _, bad := range []string{"", "1", "1.", "1.30.", "1.30.5.1", "vv1.30", "1.3a", "v", "1.-3", " 1.30", "1.30-rc1", "1.9999999999"} {
		_, err := Parse(bad)
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
	assert.Equal(t, "1.30", v("v1.30").String())
	assert.Equal(t, "1.30.5", v("v1.30.5").String())
}

func TestMinorOnlyTargetResolvesToNewestPatchInRegion(t *testing.T) {
	offered := []Version{v("1.29.9"), v("1.30.2"), v("1.30.10"), v("1.30.3"), v("1.31.1"), v("1.30")}
	got, err := Resolve(v("1.30"), offered)
	require.NoError(t, err)
	assert.Equal(t, v("1.30.10"), got, "numeric patch order")
	got, err = Resolve(v("1.30.3"), offered)
	require.NoError(t, err)
	assert.Equal(t, v("1.30.3"), got)
	_, err = Resolve(v("1.30.4"), offered)
	assert.ErrorIs(t, err, ErrUnavailable)
	_, err = Resolve(v("1.32"), offered)
	assert.ErrorContains(t, err, "1.32")
}

func TestNoDowngradeTargetAtOrBelowCurrentIsNothingToDo(t *testing.T) {
	assert.True(t, NothingToDo(v("1.30.5"), v("1.30.5")))
	assert.True(t, NothingToDo(v("1.30.5"), v("1.29.9")))
	assert.False(t, NothingToDo(v("1.30.5"), v("1.30.6")))
}

func TestUpgradeMayNotSkipAMinorVersion(t *testing.T) {
	assert.NoError(t, CheckMinorSkip(v("1.28.3"), v("1.29.1"), false))
	assert.NoError(t, CheckMinorSkip(v("1.28.3"), v("1.28.9"), false))
	err := CheckMinorSkip(v("1.28.3"), v("1.30.1"), false)
	assert.ErrorIs(t, err, ErrMinorSkip)
	assert.ErrorContains(t, err, "1.28.3 to 1.30.1")
	assert.ErrorIs(t, CheckMinorSkip(v("1.30.3"), v("2.0.0"), false), ErrMinorSkip, "a major jump skips")
	assert.NoError(t, CheckMinorSkip(v("1.27.3"), v("1.30.1"), true), "LTS may jump")
	assert.NoError(t, CheckMinorSkip(v("1.30.3"), v("1.28.1"), false), "downgrades are NothingToDo's business")
}

func TestNodePoolSkewRules(t *testing.T) {
	// Same major.
	assert.ErrorIs(t, CheckPoolSkew(v("2.0.0"), v("1.30.0")), ErrPoolSkew)
	// Not newer than the control plane.
	err := CheckPoolSkew(v("1.29.0"), v("1.30.0"))
	assert.ErrorContains(t, err, "newer than control plane")
	// From 1.28 on, three minors of lag.
	assert.NoError(t, CheckPoolSkew(v("1.35.0"), v("1.32.4")))
	err = CheckPoolSkew(v("1.35.0"), v("1.31.4"))
	assert.ErrorIs(t, err, ErrPoolSkew)
	assert.ErrorContains(t, err, "node pool 1.31.4 would trail control plane 1.35.0 by more than 3 minor versions")
	// Before 1.28, two.
	assert.NoError(t, CheckPoolSkew(v("1.27.0"), v("1.25.0")))
	assert.ErrorContains(t, CheckPoolSkew(v("1.27.0"), v("1.24.0")), "more than 2 minor")
}

func TestStringMatchesFormat(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		x := Version{Major: rapid.Int().Draw(t, "major"), Minor: rapid.Int().Draw(t, "minor"), Patch: rapid.Int().Draw(t, "patch"), HasPatch: rapid.Bool().Draw(t, "hasPatch")}
		want := fmt.Sprintf("%d.%d", x.Major, x.Minor)
		if x.HasPatch {
			want = fmt.Sprintf("%d.%d.%d", x.Major, x.Minor, x.Patch)
		}
		if got := x.String(); got != want {
			t.Fatalf("%#v: got %q, want %q", x, got, want)
		}
		if got := string(x.Append([]byte("v"))); got != "v"+want {
			t.Fatalf("%#v: Append gave %q, want %q", x, got, "v"+want)
		}
	})
}

func TestParseReadsDigitsAsAtoi(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.SliceOfN(rapid.StringMatching(`[0-9]{1,9}`), 2, 3).Draw(t, "parts")
		got, err := Parse(strings.Join(n, "."))
		if err != nil {
			t.Fatal(err)
		}
		var want [3]int
		for i, s := range n {
			want[i], _ = strconv.Atoi(s)
		}
		if got != (Version{want[0], want[1], want[2], len(n) == 3}) {
			t.Fatalf("%q: got %#v", n, got)
		}
	})
}

func TestResolveIndexPicksTheFirstOfEqualVersions(t *testing.T) {
	offered := []Version{v("1.30.2"), v("1.30.02"), v("1.29.9"), v("v1.30.2")}
	assert.Equal(t, 0, ResolveIndex(v("1.30"), offered))
	assert.Equal(t, -1, ResolveIndex(v("1.31"), offered))
	assert.Equal(t, 2, ResolveIndex(v("1.29.9"), offered))
}
