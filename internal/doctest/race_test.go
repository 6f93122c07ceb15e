//go:build race

package doctest

// raceEnabled builds the host program with -race too: the test's
// dependencies are then already compiled that way.
const raceEnabled = true
