package nodeimage

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestParseMatchesReference holds Parse, made cheaper, to the version it
// replaced (kept verbatim below) on strings made of the pieces node image
// versions are made of, well formed or not: the same image or the same
// error.
func TestParseMatchesReference(t *testing.T) {
	// Mostly well formed in one of the three grammars, some dates out of
	// range, some pieces the wrong length, some random.
	grammars := [][3][]string{
		{{"202405", "202412", "202413", "202400", "20240"}, {"27", "01", "31", "32", "00", "7"}, {"0", "1", "12", "123456", "1234567"}},
		{{"2023", "2021", "0000", "202"}, {"03", "12", "13", "3"}, {"28", "01", "32", "280"}},
		{{"20348", "17763", "123", "123456"}, {"3207", "0", "123456", "1234567"}, {"250214", "251399", "250230", "25021"}},
	}
	version := rapid.Custom(func(t *rapid.T) string {
		switch rapid.IntRange(0, 9).Draw(t, "kind") {
		case 0:
			return rapid.StringMatching(`[0-9.a-]{0,12}`).Draw(t, "text")
		case 1, 2, 3, 4:
			return rapid.SampledFrom([]string{"202405.27.0", "2023.03.28", "20348.3207.250214", "202410.027.00012"}).Draw(t, "valid")
		}
		g := rapid.SampledFrom(grammars).Draw(t, "grammar")
		var parts []string
		for i := range rapid.SampledFrom([]int{3, 3, 3, 2, 4}).Draw(t, "n") {
			parts = append(parts, rapid.SampledFrom(g[min(i, 2)]).Draw(t, "part"))
		}
		return strings.Join(parts, rapid.SampledFrom([]string{".", ".", ".", ".", "-", ".."}).Draw(t, "dot"))
	})
	family := rapid.SampledFrom([]string{"AKSUbuntu-2204gen2containerd", "AKSWindows-2022-containerd", "AKSUbuntu-2204gen2containerd", "AKSWindows-2022-containerd", "AKSUbuntu-2204gen2containerd", "AKSWindows-2022-containerd", "A", "", "-A", "A-", "A--B", "AKS Ubuntu", "é", "\xff", "AKSUbuntu-202405.28.0", "x-2023.01.02"})
	rapid.Check(t, func(t *rapid.T) {
		s := version.Draw(t, "version")
		if rapid.IntRange(0, 5).Draw(t, "bare") > 0 {
			s = family.Draw(t, "family") + rapid.SampledFrom([]string{"-", "-", "-", "-", "", "--"}).Draw(t, "sep") + s
		}
		if rapid.IntRange(0, 2).Draw(t, "suffix") == 0 {
			s += "-" + version.Draw(t, "patch")
		}
		got, gotErr := Parse(s)
		want, wantErr := refParse(s)
		if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("Parse(%q) = %#v, %v; want %#v, %v", s, got, gotErr, want, wantErr)
		}
		gotV, gotErr := ParseVersion(s)
		wantV, wantErr := refParseVersion(s)
		if gotV != wantV || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("ParseVersion(%q) = %#v, %v; want %#v, %v", s, gotV, gotErr, wantV, wantErr)
		}
	})
}

// The parser as it was before it was made cheaper: the oracle of
// TestParseMatchesReference. Do not edit.

func refParseVersion(s string) (Version, error) {
	base, suffix, _ := strings.Cut(s, "-")
	v, ok := refParseBase(base)
	if !ok {
		return Version{}, fmt.Errorf("%w: version %q", ErrInvalidImage, s)
	}
	if suffix != "" {
		p, ok := refParsePatch(suffix)
		if !ok || v.grammar != currentLinux {
			return Version{}, fmt.Errorf("%w: version %q: a suffix must be a YYYY.MM.DD security patch after a YYYYMM.DD.N version", ErrInvalidImage, s)
		}
		v.patch = p
	}
	v.text = s
	return v, nil
}

func refParseBase(s string) (Version, bool) {
	a, rest, ok1 := strings.Cut(s, ".")
	b, c, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || !refAllDigits(a) || !refAllDigits(b) || !refAllDigits(c) {
		return Version{}, false
	}
	switch {
	case len(a) == 6 && len(b) == 2 && len(c) <= 6: // YYYYMM.DD.N
		y, m, d := atoi(a[:4]), atoi(a[4:]), atoi(b)
		if !validDate(y, m, d) {
			return Version{}, false
		}
		return Version{grammar: currentLinux, key: [4]int{y, m, d, atoi(c)}}, true
	case len(a) == 4 && len(b) == 2 && len(c) == 2: // YYYY.MM.DD
		y, m, d := atoi(a), atoi(b), atoi(c)
		if !validDate(y, m, d) {
			return Version{}, false
		}
		return Version{grammar: legacyLinux, key: [4]int{y, m, d, 0}}, true
	case len(a) >= 4 && len(a) <= 5 && len(b) <= 6 && len(c) == 6: // build.revision.YYMMDD
		if !validDate(2000+atoi(c[:2]), atoi(c[2:4]), atoi(c[4:])) {
			return Version{}, false
		}
		return Version{grammar: windows, key: [4]int{atoi(a), atoi(b), atoi(c), 0}}, true
	}
	return Version{}, false
}

func refParsePatch(s string) (int, bool) {
	v, ok := refParseBase(s)
	if !ok || v.grammar != legacyLinux {
		return 0, false
	}
	return v.key[0]*10000 + v.key[1]*100 + v.key[2], true
}

func refAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func refParse(s string) (Image, error) {
	bad := func(why string) (Image, error) {
		return Image{}, fmt.Errorf("%w: %q: %s", ErrInvalidImage, s, why)
	}
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return bad("want <family>-<version>")
	}
	family, ver := s[:i], s[i+1:]
	if j := strings.LastIndexByte(family, '-'); j >= 0 {
		if v, ok := refParseBase(family[j+1:]); ok && v.grammar == currentLinux {
			if _, ok := refParsePatch(ver); ok {
				family, ver = family[:j], s[j+1:]
			}
		}
	}
	if !refValidFamily(family) {
		return bad("family must be letters, digits and single hyphens")
	}
	v, err := refParseVersion(ver)
	if err != nil {
		return bad("version " + ver + " is not YYYYMM.DD.N, YYYY.MM.DD or build.revision.YYMMDD")
	}
	return Image{Family: family, Version: v}, nil
}

func refValidFamily(f string) bool {
	if f == "" || f[0] == '-' || f[len(f)-1] == '-' || strings.Contains(f, "--") {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
