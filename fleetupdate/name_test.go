package fleetupdate

import (
	"regexp"
	"testing"

	"pgregory.net/rapid"
)

// validName is the name pattern Azure documents, checked by hand.
func TestValidNameIsThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringMatching(`[-a-zA-Z0-9_.é]{0,55}`).Draw(t, "name")
		want := len(name) >= 1 && len(name) <= 50 && pattern.MatchString(name)
		if got := validName(name); got != want {
			t.Fatalf("validName(%q) = %t, want %t", name, got, want)
		}
	})
}
