package k8sdiff

import (
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/fleetkit/fleetkit/internal/labelselector"
)

// The differences from labels.Parse, each decided in package labelselector
// and pinned by TestKubernetesQuirks:
//
//  1. A NUL byte anywhere is refused. Kubernetes' lexer uses byte 0 as its
//     end-of-input mark: a NUL where a token starts ends the selector and the
//     rest is never read ("a \x00 (((" is "a"); a NUL inside a word or after
//     a symbol ends that token and is skipped ("a=\x00b" is "a=b").
//  2. The operators > and < are refused; Azure lists only =, ==, !=, in,
//     notin, exists and !.
//  3. String orders requirements that share a key by their text. Kubernetes
//     sorts by key alone with sort.Sort, which keeps equal keys in input
//     order up to 12 requirements (an insertion sort) and in no documented
//     order beyond.
//
// Everything else — which strings parse, String, Empty and Matches — must be
// the same.

// check compares labelselector with Kubernetes on one selector and on label
// sets built from it and from labelText ("k=v;k2=v2", any bytes).
func check(t testing.TB, s, labelText string) {
	t.Helper()
	ours, err := labelselector.Parse(s)
	if strings.IndexByte(s, 0) >= 0 { // difference 1
		var e *labelselector.Error
		require.True(t, errors.As(err, &e), "%q: NUL must be refused, got %v", s, err)
		require.Equal(t, "\x00", e.Token)
		return
	}
	theirs, theirErr := labels.Parse(s)
	if theirErr != nil {
		require.Error(t, err, "Kubernetes refuses %q (%v); we accept it as %q", s, theirErr, ours.String())
		return
	}
	reqs, _ := theirs.Requirements()
	for _, r := range reqs {
		if r.Operator() == selection.GreaterThan || r.Operator() == selection.LessThan { // difference 2
			var e *labelselector.Error
			require.True(t, errors.As(err, &e), "%q has %s: must be refused, got %v", s, r.Operator(), err)
			require.Contains(t, []string{">", "<"}, e.Token, "%q: %v", s, err)
			return
		}
	}
	require.NoError(t, err, "Kubernetes accepts %q as %q", s, theirs.String())

	require.Equal(t, canonical(reqs), ours.String(), "String of %q", s)
	require.Equal(t, theirs.Empty(), ours.Empty(), "Empty of %q", s)
	back, err := labels.Parse(ours.String())
	require.NoError(t, err, "Kubernetes refuses our String %q of %q", ours.String(), s)
	require.Equal(t, ours.String(), canonical(must(back.Requirements())), "Kubernetes reads our String %q back differently", ours.String())

	for _, m := range labelSets(reqs, s, labelText) {
		require.Equal(t, theirs.Matches(labels.Set(m)), ours.Matches(m), "%q on %v", s, m)
	}
}

func must(r labels.Requirements, _ bool) labels.Requirements { return r }

// canonical is Kubernetes' String with same-key requirements ordered by
// text (difference 3).
func canonical(reqs labels.Requirements) string {
	reqs = slices.Clone(reqs)
	slices.SortStableFunc(reqs, func(a, b labels.Requirement) int {
		if c := strings.Compare(a.Key(), b.Key()); c != 0 {
			return c
		}
		return strings.Compare(a.String(), b.String())
	})
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// labelSets builds label sets that exercise every requirement: each key the
// selector names (and each key in labelText) absent, empty, set to each
// value it is compared with, or set to a value it is not. Small selectors
// get every combination; larger ones a sample seeded by the input. Each set
// starts from labelText's labels, so the fuzzer steers them too.
func labelSets(reqs labels.Requirements, s, labelText string) []map[string]string {
	base := map[string]string{}
	for kv := range strings.SplitSeq(labelText, ";") {
		if kv != "" {
			k, v, _ := strings.Cut(kv, "=")
			base[k] = v
		}
	}
	cands := map[string][]string{}
	add := func(k, v string) {
		if !slices.Contains(cands[k], v) {
			cands[k] = append(cands[k], v)
		}
	}
	for _, r := range reqs {
		for _, v := range r.ValuesUnsorted() {
			add(r.Key(), v)
		}
		add(r.Key(), "")
		add(r.Key(), "not-a-value-of-it")
	}
	for k, v := range base {
		add(k, v)
	}
	keys := make([]string, 0, len(cands))
	for k := range cands {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	// A state is an index per key: 0 is absent, i is cands[key][i-1].
	total := 1
	for _, k := range keys {
		total *= len(cands[k]) + 1
		if total > 512 {
			break
		}
	}
	var states [][]int
	if total <= 512 {
		for n := range total {
			st := make([]int, len(keys))
			for i, k := range keys {
				st[i], n = n%(len(cands[k])+1), n/(len(cands[k])+1)
			}
			states = append(states, st)
		}
	} else {
		h := fnv.New64a()
		h.Write([]byte(s + "\x00" + labelText))
		rng := rand.New(rand.NewPCG(h.Sum64(), 0))
		for range 256 {
			st := make([]int, len(keys))
			for i, k := range keys {
				st[i] = rng.IntN(len(cands[k]) + 1)
			}
			states = append(states, st)
		}
	}

	sets := []map[string]string{nil, base}
	for n, st := range states {
		m := make(map[string]string, len(base)+len(keys)+1)
		for k, v := range base {
			m[k] = v
		}
		for i, k := range keys {
			if st[i] == 0 {
				delete(m, k)
			} else {
				m[k] = cands[k][st[i]-1]
			}
		}
		if n%2 == 1 {
			m["unrelated.example/key"] = "v"
		}
		sets = append(sets, m)
	}
	return sets
}

// seeds are the hand-picked inputs: every operator, blanks, bad keys and
// values, prefixes, length limits, empty values, duplicates, stray commas,
// the keywords as keys and values, and the known differences.
func seeds() []string {
	n63, n64 := strings.Repeat("n", 63), strings.Repeat("n", 64)
	p253 := strings.Repeat(strings.Repeat("p", 62)+".", 4) + "p"
	var sameKey13, sameKey13r []string
	for i := 1; i <= 13; i++ {
		sameKey13 = append(sameKey13, "a!="+string(rune('a'+i)))
		sameKey13r = append([]string{"a!=" + string(rune('a'+i))}, sameKey13r...)
	}
	return []string{
		// operators
		"a=b", "a==b", "a!=b", "a in (b)", "a notin (b)", "a", "!a",
		"a in (b,c)", "a notin (b,c)", "a in(b)", "a notin(b)",
		// blanks, and bytes that are not blanks to Kubernetes
		"", " ", "\t\r\n", " a = b ", "a\t=\tb", "a\n,\nb", "a\r\n==b", "\ta in(b ,c )", "! a", "!\ta",
		"a\u00a0=b", "a\v=b", "a\f=b", "a =b", "a= b", "a != b", "a ! = b", "a in ( b , c )",
		// keys
		"A/b", "-a", "a-", "a_", "_a", "a.", ".a", "a/b/c", "/a", "a/", "/", "a//b", "a..b/c", ".a/b", "a./b",
		"a_b.io/c", "_/0", "a-.b/c", "UPPER.io/x", "a.b-c/d", "xn--a.b/c", "a*b", "ä=b", "a%b", "a:b", "a@b", "a\"b", "a'b",
		"example.com/a", "a/b", "1.2.3/x", "k8s.io/name", "k8s.io/Name_1.x-Y", "9=9", "Z", "a-b_c.d",
		p253 + "/x", p253 + "p/x", strings.Repeat("a", 64) + ".com/x", "x/" + n63, "x/" + n64,
		n63, n64, n63 + "=v", n64 + "=v", "a=" + n63, "a=" + n64, "a in (" + n63 + "," + n64 + ")",
		// values
		"a=B", "a=-b", "a=b-", "a=b_c.d-e", "a=1", "a=é", "a=b/c", "a=.b", "a==in", "a!=notin",
		// empty values
		"a=", "a==", "a!=", "a=,b", "a==,b", "a!=,b", "a != ", "a in ()", "a in ( )", "a in (,)", "a in (,b)",
		"a in (b,)", "a in (b,,c)", "a in (,,)", "a notin ()", "a notin (,)",
		// duplicates
		"a,a", "a=1,a=2", "a=2,a=1", "a in (b,b)", "a,!a", "x=1,x!=1,!x,x", "b=1,a=1,b=2,a=2",
		strings.Join(sameKey13, ","), strings.Join(sameKey13r, ","),
		// commas
		"a,", "a=b,", ",", ",a", "a,,b", "a in (b),", "a, ,b", "a,b,c,d",
		// in and notin
		"a in", "a in (", "a in (b", "a in b", "a in ((b))", "a in (b))", "a in (b c)", "a in (!b)",
		"a in (b=c)", "a in (b)c", "a in (b) c", "in", "notin", "in in (in)", "notin notin (notin)", "!in",
		"!notin", "a in (in,notin)", "a=in", "in=notin", "a notin", "ain (b)", "a IN (b)", "a in in (b)",
		"in (b)", "a notin notin", "a in (b),in", "in,notin",
		// other malformed
		"!", "!!a", "!=a", "==a", "=", "(a)", ")", "a=b=c", "a=b c", "a=(b)", "a===b", "a!==b", "a!= =b",
		"a=!b", "a b", "a !b", "a (b)", "a=)", "a,(", "!a=b", "!a in (b)", "!a b", "a!", "a=b!",
		// > and <, which Kubernetes has and Fleet does not
		"a>1", "a<1", "a>b", "a>", "a>-1", "a> 1", "a>=1", "a<>1", "a>99999999999999999999", "a>01", "a>1,b",
		"a>1,b>", "a<1 b",
		// NUL
		"a\x00", "a \x00 (((", "a=\x00b", "\x00", "a,\x00", "a in (b\x00)",
		// Azure-like
		"env=production", "env=prod, tier in (web, api), !canary",
		"environment in (production, qa), tier notin (frontend, backend), partition",
		"example.com/team=blue,region notin (westus2,eastus),!k8s.io/skip",
	}
}

func TestAgainstKubernetesSeeds(t *testing.T) {
	for _, s := range seeds() {
		check(t, s, "")
		check(t, s, "a=b;env=prod;tier=web;a=")
	}
}

// TestAgainstKubernetesAllShortSequences tries every string of up to five
// fragments from an alphabet of the grammar's pieces, so adjacent fragments
// also merge into new words and symbols ("a"+"in" is "ain", "!"+"=" is
// "!=").
func TestAgainstKubernetesAllShortSequences(t *testing.T) {
	alphabet := []string{"a", "B/c", "in", "notin", "=", "!", "(", ")", ",", " ", ">", "1", "-"}
	var walk func(prefix string, depth int)
	n := 0
	walk = func(prefix string, depth int) {
		check(t, prefix, "")
		n++
		if depth == 0 {
			return
		}
		for _, f := range alphabet {
			walk(prefix+f, depth-1)
		}
	}
	walk("", 5)
	t.Logf("%d strings", n)
}

// FuzzAgainstKubernetes: for any selector text and any label text, the two
// parsers agree but for the three documented differences.
func FuzzAgainstKubernetes(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s, "")
	}
	f.Add("a in (b,c)", "a=c;b=x")
	f.Add("a notin (b,c)", "a=;x=y")
	f.Add("!a,b!=c", "b=c")
	f.Add("x.io/a==b", "x.io/a=b;a=b")
	f.Fuzz(func(t *testing.T, selector, labelText string) { check(t, selector, labelText) })
}

// TestKubernetesQuirks pins Kubernetes' behaviour where labelselector
// deliberately differs, so that a Kubernetes change is noticed.
func TestKubernetesQuirks(t *testing.T) {
	k8s := func(s string) string {
		sel, err := labels.Parse(s)
		require.NoError(t, err, "%q", s)
		return sel.String()
	}
	refused := func(s, token string) {
		_, err := labelselector.Parse(s)
		var e *labelselector.Error
		require.True(t, errors.As(err, &e), "%q: %v", s, err)
		assert.Equal(t, token, e.Token, "%q", s)
	}

	// 1. NUL is Kubernetes' end of input.
	assert.Equal(t, "a", k8s("a \x00 (((, garbage"))
	assert.Equal(t, "a=b", k8s("a=\x00b"))
	assert.Equal(t, "a,b", k8s("a\x00,b"))
	refused("a \x00 (((, garbage", "\x00")
	refused("a=\x00b", "\x00")

	// 2. > and < exist in Kubernetes only.
	assert.Equal(t, "a>1", k8s("a > 1"))
	assert.Equal(t, "a<01", k8s("a<01"))
	refused("a > 1", ">")
	refused("b,a<01", "<")

	// 3. Same-key requirements: Kubernetes keeps input order; we sort.
	assert.Equal(t, "a=2,a=1", k8s("a=2,a=1"))
	ours, err := labelselector.Parse("a=2,a=1")
	require.NoError(t, err)
	assert.Equal(t, "a=1,a=2", ours.String())
}
