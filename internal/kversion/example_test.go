package kversion_test

import (
	"fmt"

	"github.com/fleetkit/fleetkit/internal/kversion"
)

func Example() {
	target, _ := kversion.Parse("1.30")
	offered := []kversion.Version{}
	for _, s := range []string{"1.29.9", "1.30.2", "1.30.5"} {
		v, _ := kversion.Parse(s)
		offered = append(offered, v)
	}
	resolved, _ := kversion.Resolve(target, offered)
	fmt.Println("1.30 means", resolved)

	current, _ := kversion.Parse("v1.28.9")
	fmt.Println(kversion.CheckMinorSkip(current, resolved, false))

	pool, _ := kversion.Parse("1.26.3")
	fmt.Println(kversion.CheckPoolSkew(resolved, pool))
	// Output:
	// 1.30 means 1.30.5
	// upgrade would skip a minor version: 1.28.9 to 1.30.5 (upgrade one minor version at a time)
	// node pool version skew not allowed: node pool 1.26.3 would trail control plane 1.30.5 by more than 3 minor versions
}
