package labelselector

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// Small pools so that generated selectors and label sets collide often.
var (
	poolKeys   = []string{"a", "b", "in", "notin", "example.com/a", "x.y/Z-1_2"}
	poolValues = []string{"", "1", "v", "in", "notin", "A.b_c-9"}
)

// modelReq is a requirement as generated, before any normalisation.
type modelReq struct {
	key    string
	op     op
	values []string // may repeat; one for = == !=
}

func (r modelReq) matches(labels map[string]string) bool {
	v, ok := labels[r.key]
	switch r.op {
	case opExists:
		return ok
	case opNotExists:
		return !ok
	case opEquals, opDoubleEquals, opIn:
		return ok && slices.Contains(r.values, v)
	default:
		return !ok || !slices.Contains(r.values, v)
	}
}

func genReq() *rapid.Generator[modelReq] {
	return rapid.Custom(func(t *rapid.T) modelReq {
		r := modelReq{
			key: rapid.SampledFrom(poolKeys).Draw(t, "key"),
			op:  op(rapid.IntRange(int(opExists), int(opNotIn)).Draw(t, "op")),
		}
		switch r.op {
		case opEquals, opDoubleEquals, opNotEquals:
			r.values = []string{rapid.SampledFrom(poolValues).Draw(t, "value")}
		case opIn, opNotIn:
			r.values = rapid.SliceOfN(rapid.SampledFrom(poolValues), 1, 4).Draw(t, "values")
		}
		return r
	})
}

// render writes reqs in any way Kubernetes' grammar allows: any order, any
// blanks between tokens, values in any order and repeated, an empty value
// as an empty slot.
func render(t *rapid.T, reqs []modelReq) string {
	ws := func(min int) string {
		if min == 0 {
			return rapid.SampledFrom([]string{"", "", " ", "\t", "\r\n  "}).Draw(t, "ws")
		}
		return rapid.SampledFrom([]string{" ", "\t", "\n", "  "}).Draw(t, "ws1")
	}
	var b strings.Builder
	for i, j := range rapid.Permutation(indices(len(reqs))).Draw(t, "order") {
		r := reqs[j]
		if i > 0 {
			b.WriteString(ws(0) + "," + ws(0))
		}
		switch r.op {
		case opExists:
			b.WriteString(r.key)
		case opNotExists:
			b.WriteString("!" + ws(0) + r.key)
		case opEquals, opDoubleEquals, opNotEquals:
			b.WriteString(r.key + ws(0) + map[op]string{opEquals: "=", opDoubleEquals: "==", opNotEquals: "!="}[r.op] + ws(0) + r.values[0])
		case opIn, opNotIn:
			kw := map[op]string{opIn: "in", opNotIn: "notin"}[r.op]
			b.WriteString(r.key + ws(1) + kw + ws(0) + "(" + ws(0))
			for k, v := range rapid.Permutation(r.values).Draw(t, "valueOrder") {
				if k > 0 {
					b.WriteString(ws(0) + "," + ws(0))
				}
				b.WriteString(v)
			}
			b.WriteString(ws(0) + ")")
		}
	}
	return ws(0) + b.String() + ws(0)
}

func indices(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func genLabels() *rapid.Generator[map[string]string] {
	return rapid.MapOfN(rapid.SampledFrom(append([]string{"c", "other.io/a"}, poolKeys...)),
		rapid.SampledFrom(append([]string{"zz"}, poolValues...)), 0, len(poolKeys)+2)
}

// A selector written any valid way parses; it matches exactly when every
// requirement as written holds; its String is the same however it was
// written; and Parse reads String back to an equal Selector.
func TestPropertyAnySpellingParsesToTheModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reqs := rapid.SliceOfN(genReq(), 0, 5).Draw(t, "reqs")
		text := render(t, reqs)
		sel, err := Parse(text)
		require.NoError(t, err, "%q", text)
		require.Equal(t, len(reqs) == 0, sel.Empty())

		for range 8 {
			labels := genLabels().Draw(t, "labels")
			want := true
			for _, r := range reqs {
				want = want && r.matches(labels)
			}
			require.Equal(t, want, sel.Matches(labels), "%q on %v", text, labels)
		}

		again := render(t, reqs)
		sel2, err := Parse(again)
		require.NoError(t, err, "%q", again)
		require.Equal(t, sel.String(), sel2.String(), "%q and %q", text, again)
		back, err := Parse(sel.String())
		require.NoError(t, err)
		require.Equal(t, sel, back)
	})
}

// FuzzParse: Parse never panics; what it accepts, it reads back from String
// to an equal Selector; what it refuses, it refuses at a real token.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", " ", "a", "!a", "a=b", "a==b", "a!=b", "a=", "a in (b,c)", "a notin ()", "a in (,)",
		"example.com/a=b", "in in (in)", "a,b", "a,", ",a", "a=b c", "a>1", "a\x00", "A/b=c",
		"env=prod, tier in (web, api), !canary", "a in (b,,c)", "a!==b", "x=1,x!=1,!x,x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			var e *Error
			require.True(t, errors.As(err, &e), "%T", err)
			require.Equal(t, s, e.Selector)
			require.True(t, 0 <= e.Offset && e.Offset+len(e.Token) <= len(s), "offset %d token %q in %q", e.Offset, e.Token, s)
			require.Equal(t, e.Token, s[e.Offset:e.Offset+len(e.Token)])
			require.NotEmpty(t, e.Reason)
			require.True(t, sel.Empty())
			return
		}
		str := sel.String()
		back, err := Parse(str)
		require.NoError(t, err, "String of %q is %q", s, str)
		require.Equal(t, sel, back, "%q -> %q", s, str)
		require.Equal(t, str, back.String())
	})
}
