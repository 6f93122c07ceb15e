// Package nodeimage parses and orders AKS node image versions and picks the
// image each node pool should move to under Azure Fleet's three node image
// selections: Latest, Consistent and Custom.
//
// A node image string is a family and a version joined by a hyphen, such as
// "AKSUbuntu-2204gen2containerd-202405.27.0" or
// "AKSWindows-2022-containerd-20348.3207.250214". Families may contain
// hyphens, so strings are split from the right.
//
// Versions come in three grammars, all compared numerically:
//
//   - current Linux, YYYYMM.DD.N (build date and rebuild counter);
//   - legacy Linux, YYYY.MM.DD, used until March 2023 — it orders by date
//     with the current grammar, so 2023.03.28 is later than 202303.13.0, and
//     on the same date a legacy version orders before a current one;
//   - Windows, build.revision.YYMMDD (OS build, cumulative update revision,
//     build date), compared part by part.
//
// A version may carry a security-patch suffix, as node labels do:
// "AKSUbuntu-2204gen2containerd-202410.27.0-2024.12.01". It orders after the
// same base version without a suffix, and by patch date among suffixes.
//
// Images of different families are never compared: [Image.Compare] returns
// [ErrFamilyMismatch] (AKS: a family change is an OS SKU change, not an
// upgrade).
package nodeimage

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidImage is wrapped by every parse error.
var ErrInvalidImage = errors.New("nodeimage: invalid node image version")

// ErrFamilyMismatch is returned when images of different families are
// compared.
var ErrFamilyMismatch = errors.New("nodeimage: images of different families cannot be compared")

type grammar uint8

const (
	legacyLinux grammar = iota + 1
	currentLinux
	windows
)

// Version is the version part of a node image, such as "202405.27.0". The
// zero Version is empty and orders before every other version.
type Version struct {
	text    string // as written, suffix included: String round-trips it exactly
	grammar grammar
	key     [4]int // Linux: year, month, day, rebuild; Windows: build, revision, yymmdd, 0
	patch   int    // security patch date as YYYYMMDD; 0 if none
}

// ParseVersion parses a version in any of the three grammars, with an
// optional security-patch suffix.
func ParseVersion(s string) (Version, error) {
	base, suffix, _ := strings.Cut(s, "-")
	v, ok := parseBase(base)
	if !ok {
		return Version{}, fmt.Errorf("%w: version %q", ErrInvalidImage, s)
	}
	if suffix != "" {
		p, ok := parsePatch(suffix)
		if !ok || v.grammar != currentLinux {
			return Version{}, fmt.Errorf("%w: version %q: a suffix must be a YYYY.MM.DD security patch after a YYYYMM.DD.N version", ErrInvalidImage, s)
		}
		v.patch = p
	}
	v.text = s
	return v, nil
}

// parseBase parses one version token (no suffix): three runs of digits
// joined by dots. It reads s once: every node pool's start parses its image.
func parseBase(s string) (Version, bool) {
	var f [3]string
	n, from := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' && n < 2:
			f[n], n, from = s[from:i], n+1, i+1
		case c < '0' || c > '9':
			return Version{}, false
		}
	}
	a, b, c := f[0], f[1], s[from:]
	if n != 2 || a == "" || b == "" || c == "" {
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

// parsePatch parses a YYYY.MM.DD security patch date into YYYYMMDD.
func parsePatch(s string) (int, bool) {
	v, ok := parseBase(s)
	if !ok || v.grammar != legacyLinux {
		return 0, false
	}
	return v.key[0]*10000 + v.key[1]*100 + v.key[2], true
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func validDate(y, m, d int) bool { return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= 31 }

// String returns the version exactly as it was parsed.
func (v Version) String() string { return v.text }

// IsZero reports whether v is the empty Version.
func (v Version) IsZero() bool { return v.grammar == 0 }

// Compare returns -1, 0 or +1 as v is older than, the same as, or newer
// than w. Versions that differ only in leading zeros compare equal. Between
// a Windows and a Linux version the answer is fixed but meaningless; compare
// images with [Image.Compare], which refuses mixed families.
func (v Version) Compare(w Version) int {
	vw, ww := v.grammar == windows, w.grammar == windows
	if v.IsZero() || w.IsZero() || vw != ww {
		return cmp.Compare(int(v.grammar), int(w.grammar))
	}
	for i := range v.key {
		if c := cmp.Compare(v.key[i], w.key[i]); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(int(v.grammar), int(w.grammar)); c != 0 {
		return c // same date: legacy before current
	}
	return cmp.Compare(v.patch, w.patch)
}

// MarshalText encodes the version as its string.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.text), nil }

// UnmarshalText parses a version string; an empty string is the zero Version.
func (v *Version) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*v = Version{}
		return nil
	}
	p, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Image is a node image: a family and a version.
type Image struct {
	Family  string  // e.g. "AKSUbuntu-2204gen2containerd"; "image type" in Fleet's docs
	Version Version // e.g. 202405.27.0
}

// Parse parses a node image version string such as
// "AKSWindows-2022-containerd-20348.3207.250214", splitting from the right.
// A trailing YYYY.MM.DD is a security-patch suffix only when a YYYYMM.DD.N
// version stands before it; otherwise it is a legacy version.
func Parse(s string) (Image, error) {
	bad := func(why string) (Image, error) {
		return Image{}, fmt.Errorf("%w: %q: %s", ErrInvalidImage, s, why)
	}
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return bad("want <family>-<version>")
	}
	family, ver := s[:i], s[i+1:]
	if len(ver) == len("2024.12.01") { // the length of a patch: look no further otherwise
		if j := strings.LastIndexByte(family, '-'); j >= 0 {
			if v, ok := parseBase(family[j+1:]); ok && v.grammar == currentLinux {
				if _, ok := parsePatch(ver); ok {
					family, ver = family[:j], s[j+1:]
				}
			}
		}
	}
	if !validFamily(family) {
		return bad("family must be letters, digits and single hyphens")
	}
	v, err := ParseVersion(ver)
	if err != nil {
		return bad("version " + ver + " is not YYYYMM.DD.N, YYYY.MM.DD or build.revision.YYMMDD")
	}
	return Image{Family: family, Version: v}, nil
}

func validFamily(f string) bool {
	if f == "" || f[0] == '-' || f[len(f)-1] == '-' {
		return false
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; !familyByte[c] || c == '-' && f[i-1] == '-' { // f[0] is not a hyphen
			return false
		}
	}
	return true
}

// familyByte holds the bytes a family may contain: letters, digits and
// hyphens.
var familyByte = func() (ok [256]bool) {
	for c := range ok {
		ok[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	}
	return ok
}()

// String returns the node image version string, as AKS writes it.
func (i Image) String() string {
	if i.Family == "" && i.Version.IsZero() {
		return ""
	}
	return i.Family + "-" + i.Version.String()
}

// IsZero reports whether i is the empty Image.
func (i Image) IsZero() bool { return i.Family == "" && i.Version.IsZero() }

// Compare orders two images of the same family by version; images of
// different families return [ErrFamilyMismatch].
func (i Image) Compare(j Image) (int, error) {
	if i.Family != j.Family {
		return 0, fmt.Errorf("%w: %q and %q", ErrFamilyMismatch, i, j)
	}
	return i.Version.Compare(j.Version), nil
}

// MarshalText encodes the image as its string.
func (i Image) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText parses a node image string; an empty string is the zero Image.
func (i *Image) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*i = Image{}
		return nil
	}
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*i = p
	return nil
}
