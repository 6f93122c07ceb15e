// Package kversion parses Kubernetes versions as Azure accepts them and
// encodes the AKS rules that decide whether an upgrade may be asked for.
package kversion

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors; every refusal wraps one and names the versions.
var (
	ErrInvalid     = errors.New("invalid Kubernetes version")
	ErrMinorSkip   = errors.New("upgrade would skip a minor version")
	ErrPoolSkew    = errors.New("node pool version skew not allowed")
	ErrUnavailable = errors.New("version not offered in the region")
)

// Version is major.minor with an optional patch. A version without a patch
// (an alias such as "1.30") stands for the newest patch of that minor; see
// [Resolve].
type Version struct {
	Major, Minor, Patch int
	HasPatch            bool
}

// Parse accepts Azure CLI's pattern ^[vV]?\d+\.\d+(\.\d+)?$: "1.30",
// "1.30.5" or "v1.30.5".
func Parse(s string) (Version, error) {
	t := s
	if t != "" && (t[0] == 'v' || t[0] == 'V') {
		t = t[1:]
	}
	var n [3]int
	parts := 0
	for parts < 3 {
		i := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return Version{}, fmt.Errorf("%w %q: want major.minor or major.minor.patch", ErrInvalid, s)
		}
		for _, c := range []byte(t[:i]) { // at most 9 digits: no overflow
			n[parts] = n[parts]*10 + int(c-'0')
		}
		parts++
		t = t[i:]
		if t == "" {
			break
		}
		if t[0] != '.' || parts == 3 {
			return Version{}, fmt.Errorf("%w %q: want major.minor or major.minor.patch", ErrInvalid, s)
		}
		t = t[1:]
	}
	if parts < 2 {
		return Version{}, fmt.Errorf("%w %q: want major.minor or major.minor.patch", ErrInvalid, s)
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2], HasPatch: parts == 3}, nil
}

// String renders "1.30" or "1.30.5".
func (v Version) String() string {
	var buf [3 * 21]byte // three ints and two dots, signs included
	return string(v.Append(buf[:0]))
}

// Append appends what String returns to b: a message that names versions
// is built in one allocation.
func (v Version) Append(b []byte) []byte {
	b = strconv.AppendInt(b, int64(v.Major), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(v.Minor), 10)
	if v.HasPatch {
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(v.Patch), 10)
	}
	return b
}

// Compare orders by major, minor, then patch. A version without a patch
// compares as patch 0.
func (v Version) Compare(w Version) int {
	return cmp.Or(cmp.Compare(v.Major, w.Major), cmp.Compare(v.Minor, w.Minor), cmp.Compare(v.Patch, w.Patch))
}

// Resolve picks the concrete version a target means in a region that offers
// the given versions: a minor-only target becomes the newest offered patch of
// that minor (AKS: creating without a patch picks the latest patch); a full
// target must itself be offered. Offered versions without a patch are ignored.
func Resolve(target Version, offered []Version) (Version, error) {
	i := ResolveIndex(target, offered)
	if i < 0 {
		return Version{}, fmt.Errorf("%w: %s", ErrUnavailable, target)
	}
	return offered[i], nil
}

// ResolveIndex is [Resolve] answering with the index in offered of the
// version it picks (the first of equal ones), or -1 where Resolve fails:
// a caller that keeps something beside each offered version finds it
// without building an error.
func ResolveIndex(target Version, offered []Version) int {
	best := -1
	for i, o := range offered {
		if !o.HasPatch || o.Major != target.Major || o.Minor != target.Minor {
			continue
		}
		if target.HasPatch && o.Patch != target.Patch {
			continue
		}
		if best < 0 || o.Compare(offered[best]) > 0 {
			best = i
		}
	}
	return best
}

// NothingToDo reports whether current is already at or ahead of target: AKS
// does not downgrade, and Fleet skips such a member.
func NothingToDo(current, target Version) bool { return current.Compare(target) >= 0 }

// CheckMinorSkip refuses an upgrade that skips a minor version. AKS
// (upgrade-aks-control-plane.md): "1.28.x -> 1.30.x isn't allowed" for
// non-LTS clusters; LTS clusters may jump to a higher LTS version.
func CheckMinorSkip(current, target Version, lts bool) error {
	if lts || current.Compare(target) >= 0 {
		return nil
	}
	if target.Major != current.Major || target.Minor > current.Minor+1 {
		return fmt.Errorf("%w: %s to %s (upgrade one minor version at a time)", ErrMinorSkip, current, target)
	}
	return nil
}

// MaxPoolLag is how many minor versions a node pool may trail the control
// plane: 3 from Kubernetes 1.28 on, 2 before (AKS supported-kubernetes-versions.md).
func MaxPoolLag(controlPlane Version) int {
	if controlPlane.Major > 1 || controlPlane.Minor >= 28 {
		return 3
	}
	return 2
}

// CheckPoolSkew refuses a control plane / node pool pair AKS does not allow:
// the pool must share the control plane's major version, may not be newer,
// and may trail by at most [MaxPoolLag] minors.
func CheckPoolSkew(controlPlane, pool Version) error {
	switch {
	case pool.Major != controlPlane.Major:
		return fmt.Errorf("%w: node pool %s and control plane %s differ in major version", ErrPoolSkew, pool, controlPlane)
	case pool.Minor > controlPlane.Minor:
		return fmt.Errorf("%w: node pool %s is newer than control plane %s", ErrPoolSkew, pool, controlPlane)
	case controlPlane.Minor-pool.Minor > MaxPoolLag(controlPlane):
		return fmt.Errorf("%w: node pool %s would trail control plane %s by more than %d minor versions", ErrPoolSkew, pool, controlPlane, MaxPoolLag(controlPlane))
	}
	return nil
}
