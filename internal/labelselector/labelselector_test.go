package labelselector

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustParse(t testing.TB, s string) Selector {
	t.Helper()
	sel, err := Parse(s)
	require.NoError(t, err, "%q", s)
	return sel
}

func TestParseCanonicalString(t *testing.T) {
	name63, value63 := strings.Repeat("n", 63), strings.Repeat("v", 63)
	prefix253 := strings.Repeat(strings.Repeat("p", 62)+".", 4) + "p" // 4*63+1
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{" \t\r\n ", ""},
		{"a", "a"},
		{"!a", "!a"},
		{"! a", "!a"},
		{"a=b", "a=b"},
		{"a==b", "a==b"},
		{"a!=b", "a!=b"},
		{" a = b ", "a=b"},
		{"a =b,c== d,e !=f", "a=b,c==d,e!=f"},
		{"a=", "a="},
		{"a==", "a=="},
		{"a!=", "a!="},
		{"a=,b", "a=,b"},
		{"a in (b)", "a in (b)"},
		{"a in(b)", "a in (b)"},
		{"a\tin\n(\rb\t)", "a in (b)"},
		{"a in (c, b, c)", "a in (b,c)"},
		{"a in ()", "a in ()"},
		{"a in ( )", "a in ()"},
		{"a in (,)", "a in ()"},
		{"a in (,b)", "a in (,b)"},
		{"a in (b,)", "a in (,b)"},
		{"a in (b,,c)", "a in (,b,c)"},
		{"a notin (b,a)", "a notin (a,b)"},
		{"a notin ()", "a notin ()"},
		{"in", "in"},
		{"!notin", "!notin"},
		{"in in (in)", "in in (in)"},
		{"notin notin (notin,in)", "notin notin (in,notin)"},
		{"in=notin", "in=notin"},
		{"example.com/a=b", "example.com/a=b"},
		{"k8s.io/A_b.c-D=E.f_g-1", "k8s.io/A_b.c-D=E.f_g-1"},
		{"1/2=3", "1/2=3"},
		{"b,a,c=1", "a,b,c=1"},
		{"a=2,a=1", "a=1,a=2"},
		{"a,a", "a,a"},
		{"x=1,!x", "!x,x=1"},
		{"x=1,x,x in (1),x notin (2),x!=3", "x,x in (1),x notin (2),x!=3,x=1"},
		{name63 + "=" + value63, name63 + "=" + value63},
		{prefix253 + "/" + name63, prefix253 + "/" + name63},
	} {
		sel := mustParse(t, tc.in)
		assert.Equal(t, tc.want, sel.String(), "%q", tc.in)
		assert.Equal(t, tc.want == "", sel.Empty(), "%q", tc.in)
		assert.Equal(t, sel, mustParse(t, sel.String()), "%q round-trips", tc.in)
	}
}

func TestParseErrorsSayWhatAndWhere(t *testing.T) {
	name64, value64 := strings.Repeat("n", 64), strings.Repeat("v", 64)
	prefix254 := strings.Repeat(strings.Repeat("p", 62)+".", 4) + "pp"
	for _, tc := range []struct {
		in     string
		off    int
		token  string
		reason string
	}{
		{",", 0, ",", "expected a key or '!'"},
		{"a,", 2, "", "expected a key or '!'"},
		{"a,,b", 2, ",", "expected a key or '!'"},
		{"a, ,b", 3, ",", "expected a key or '!'"},
		{"!", 1, "", "expected a key after '!'"},
		{"!!a", 1, "!", "expected a key after '!'"},
		{"!=a", 0, "!=", "expected a key or '!'"},
		{"!a=b", 2, "=", `after "!a" ('!key' takes no operator or value)`},
		{"!a in (b)", 3, "in", "'!key' takes no operator"},
		{"a b", 2, "b", `expected an operator (=, ==, !=, in, notin), ',' or end of selector after key "a"`},
		{"a IN (b)", 2, "IN", "expected an operator"},
		{"a !b", 2, "!", "expected an operator"},
		{"a (b)", 2, "(", "expected an operator"},
		{"a in", 4, "", `expected '(' after "in"`},
		{"a notin b", 8, "b", `expected '(' after "notin"`},
		{"a in in (b)", 5, "in", `expected '(' after "in"`},
		{"a in (", 6, "", "expected a value, ',' or ')'"},
		{"a in (b", 7, "", `expected ',' or ')' after value "b"`},
		{"a in (b c)", 8, "c", `expected ',' or ')' after value "b"`},
		{"a in (b,=)", 8, "=", "expected a value, ',' or ')'"},
		{"a in ((b))", 6, "(", "expected a value, ',' or ')'"},
		{"a in (b)c", 8, "c", "expected ',' or end of selector"},
		{"a=b=c", 3, "=", "expected ',' or end of selector"},
		{"a=b c", 4, "c", "expected ',' or end of selector"},
		{"a=(b)", 2, "(", `expected a value after "="`},
		{"a=!b", 2, "!", `expected a value after "="`},
		{"a===b", 3, "=", `expected a value after "=="`},
		{"a!==b", 3, "=", `expected a value after "!="`},
		{"a>1", 1, ">", "operator not supported"},
		{"a < 1", 2, "<", "operator not supported"},
		{"A/b", 0, "A/b", `key "A/b" has prefix "A", which must be a lowercase DNS subdomain`},
		{"a..b/c", 0, "a..b/c", `has prefix "a..b"`},
		{"a-.b/c", 0, "a-.b/c", `has prefix "a-.b"`},
		{"a/b/c", 0, "a/b/c", "more than one '/'"},
		{"/a", 0, "/a", "empty prefix"},
		{"x,a/", 2, "a/", "empty name"},
		{"-a", 0, "-a", `name "-a", which must be letters, digits`},
		{"a_", 0, "a_", "must be letters"},
		{"a*b", 0, "a*b", "must be letters"},
		{"a=-b", 2, "-b", `value "-b" must be empty or letters`},
		{"a in (b,c_)", 8, "c_", `value "c_"`},
		{"a=é", 2, "é", `value "é"`},
		{"a\v=b", 0, "a\v", "must be letters"},
		{name64, 0, name64, "64-character name; at most 63"},
		{"a=" + value64, 2, value64, "is 64 characters; at most 63"},
		{prefix254 + "/a", 0, prefix254 + "/a", "254-character prefix; at most 253"},
		{"a\x00", 1, "\x00", "NUL byte not allowed"},
	} {
		_, err := Parse(tc.in)
		var e *Error
		if !assert.True(t, errors.As(err, &e), "%q: %v", tc.in, err) {
			continue
		}
		assert.Equal(t, tc.in, e.Selector)
		assert.Equal(t, tc.off, e.Offset, "%q offset", tc.in)
		assert.Equal(t, tc.token, e.Token, "%q token", tc.in)
		assert.Contains(t, e.Reason, tc.reason, "%q", tc.in)
		assert.Contains(t, err.Error(), fmt.Sprintf("label selector %q: ", tc.in))
	}
}

func TestErrorMessageNamesTokenOrEnd(t *testing.T) {
	_, err := Parse("env in (a")
	assert.EqualError(t, err, `label selector "env in (a": end of selector (offset 9): expected ',' or ')' after value "a"`)
	_, err = Parse("env=prod tier=web")
	assert.EqualError(t, err, `label selector "env=prod tier=web": "tier" at offset 9: expected ',' or end of selector`)
}

func TestMatches(t *testing.T) {
	type L = map[string]string
	for _, tc := range []struct {
		sel    string
		labels L
		want   bool
	}{
		{"", nil, true},
		{"", L{"a": "1"}, true},
		{"a=1", L{"a": "1"}, true},
		{"a==1", L{"a": "1", "b": "2"}, true},
		{"a=1", L{"a": "2"}, false},
		{"a=1", nil, false},
		{"a=", L{"a": ""}, true},
		{"a=", nil, false},
		{"a!=1", nil, true},
		{"a!=1", L{"a": "2"}, true},
		{"a!=1", L{"a": "1"}, false},
		{"a!=", L{"a": ""}, false},
		{"a!=", L{"a": "x"}, true},
		{"a in (1,2)", L{"a": "2"}, true},
		{"a in (1,2)", L{"a": "3"}, false},
		{"a in (1,2)", nil, false},
		{"a in ()", L{"a": ""}, true},
		{"a in (,1)", L{"a": ""}, true},
		{"a notin (1,2)", nil, true},
		{"a notin (1,2)", L{"a": "2"}, false},
		{"a notin (1,2)", L{"a": "3"}, true},
		{"a", L{"a": ""}, true},
		{"a", L{"b": "1"}, false},
		{"!a", L{"b": "1"}, true},
		{"!a", L{"a": ""}, false},
		{"a=1,a=2", L{"a": "1"}, false},
		{"a,!a", L{"a": "1"}, false},
		{"a,!a", nil, false},
		{"env=prod,tier in (web,api),!canary", L{"env": "prod", "tier": "api"}, true},
		{"env=prod,tier in (web,api),!canary", L{"env": "prod", "tier": "api", "canary": ""}, false},
		{"example.com/team=blue", L{"example.com/team": "blue"}, true},
		{"example.com/team=blue", L{"team": "blue"}, false},
	} {
		assert.Equal(t, tc.want, mustParse(t, tc.sel).Matches(tc.labels), "%q on %v", tc.sel, tc.labels)
	}
}

func TestZeroSelectorIsEmptyAndMatchesEverything(t *testing.T) {
	var s Selector
	assert.True(t, s.Empty())
	assert.True(t, s.Matches(nil))
	assert.Equal(t, "", s.String())
	assert.Equal(t, s, mustParse(t, "  "))
}
