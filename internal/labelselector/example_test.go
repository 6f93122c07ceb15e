package labelselector_test

import (
	"fmt"

	"github.com/fleetkit/fleetkit/internal/labelselector"
)

func Example() {
	sel, err := labelselector.Parse("tier in (web, api), env = prod, !canary")
	if err != nil {
		panic(err)
	}
	fmt.Println(sel)
	fmt.Println(sel.Matches(map[string]string{"env": "prod", "tier": "web"}))
	fmt.Println(sel.Matches(map[string]string{"env": "prod", "tier": "web", "canary": "true"}))
	fmt.Println(sel.Matches(map[string]string{"env": "staging", "tier": "api"}))

	_, err = labelselector.Parse("env=prod,Region/x=1")
	fmt.Println(err)
	// Output:
	// !canary,env=prod,tier in (api,web)
	// true
	// false
	// false
	// label selector "env=prod,Region/x=1": "Region/x" at offset 9: key "Region/x" has prefix "Region", which must be a lowercase DNS subdomain: a-z, 0-9, '-' and '.', each dot-separated part starting and ending with a-z or 0-9
}
