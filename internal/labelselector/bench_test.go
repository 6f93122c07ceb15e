package labelselector

import (
	"fmt"
	"testing"
)

var sink int

// BenchmarkMatches: one member matched against a typical four-term
// selector, cycling over 1,024 members with seven or eight labels
// each, about one in seven of which match.
func BenchmarkMatches(b *testing.B) {
	sel, err := Parse("env in (prod,staging),tier=frontend,!canary,region notin (westus2,eastus)")
	if err != nil {
		b.Fatal(err)
	}
	members := make([]map[string]string, 1024)
	matched := 0
	for i := range members {
		m := map[string]string{
			"env":    []string{"prod", "staging", "dev"}[i%3],
			"tier":   []string{"frontend", "backend"}[i%2],
			"region": []string{"westus2", "westeurope", "eastus", "japaneast"}[i/2%4],
			"team":   fmt.Sprint("team-", i%17),
			"cost":   fmt.Sprint(i % 5),
			"owner":  "platform",
			"sku":    "standard",
		}
		if i%7 == 0 {
			m["canary"] = "true"
		}
		members[i] = m
		if sel.Matches(m) {
			matched++
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if sel.Matches(members[i%len(members)]) {
			sink++
		}
	}
	b.ReportMetric(float64(matched)/float64(len(members)), "matched/member")
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("env in (prod,staging),tier=frontend,!canary,region notin (westus2,eastus)"); err != nil {
			b.Fatal(err)
		}
	}
}
