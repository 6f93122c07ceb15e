package fake

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// AutoUpgradeScenario is a release train and a fleet that fit together.
type AutoUpgradeScenario struct {
	Train *ReleaseTrain
	Fleet *Fleet   // members over the train's regions, on versions it offered at Start
	LTS   []string // members on AKS's LTS support plan
	Start time.Time
	Stop  time.Time // the train's last release
}

// ReleaseTrains generates release trains starting at GenEpoch: 1 to 6
// regions, rollouts of 3 days to 2 weeks, minors every 8 to 17 weeks,
// patches every 2 to 6 weeks, and a stop from 0 to 90 days after the start.
func ReleaseTrains() *rapid.Generator[*ReleaseTrain] {
	return rapid.Custom(func(t *rapid.T) *ReleaseTrain {
		return NewReleaseTrain(trainOptions(t))
	})
}

func trainOptions(t *rapid.T) TrainOptions {
	const week = 7 * 24 * time.Hour
	return TrainOptions{
		Start:      GenEpoch,
		Stop:       GenEpoch.AddDate(0, 0, rapid.IntRange(0, 90).Draw(t, "stopDays")),
		Regions:    slices.Clone(trainRegions[:rapid.IntRange(1, len(trainRegions)).Draw(t, "regions")]),
		Rollout:    rapid.SampledFrom([]time.Duration{3 * 24 * time.Hour, week, 2 * week}).Draw(t, "rollout"),
		Newest:     rapid.IntRange(29, 33).Draw(t, "newest"),
		MinorEvery: rapid.SampledFrom([]time.Duration{8 * week, 13 * week, 17 * week}).Draw(t, "minorEvery"),
		PreviewFor: rapid.SampledFrom([]time.Duration{3 * week, 5 * week}).Draw(t, "previewFor"),
		PatchEvery: rapid.SampledFrom([]time.Duration{2 * week, 4 * week, 6 * week}).Draw(t, "patchEvery"),
	}
}

// AutoUpgradeScenarios generates a release train (as ReleaseTrains does)
// and 1 to 15 members on it: each on a GA patch its region offered at
// GenEpoch of a minor from N-3 to N, some on the LTS plan, with 1 to 3 node
// pools on images 2 to 10 weeks old, and a daily or weekly maintenance
// window or none.
func AutoUpgradeScenarios() *rapid.Generator[AutoUpgradeScenario] {
	return rapid.Custom(func(t *rapid.T) AutoUpgradeScenario {
		opt := trainOptions(t)
		train := NewReleaseTrain(opt)
		rel := train.At(GenEpoch)
		sc := AutoUpgradeScenario{Train: train, Start: GenEpoch, Stop: opt.Stop}
		families := append(slices.Clone(trainLinux), trainWindows)
		groups := genGroups[:rapid.IntRange(1, len(genGroups)).Draw(t, "groups")]
		var members []fleetupdate.Member
		for i := range rapid.IntRange(1, 15).Draw(t, "members") {
			region := rapid.SampledFrom(train.Regions).Draw(t, "region")
			var ga []string
			for _, k := range rel.Regions[region].KubernetesVersions {
				if !k.IsPreview {
					ga = append(ga, k.Version)
				}
			}
			m := fleetupdate.Member{
				Name:              fmt.Sprintf("member-%02d", i),
				Group:             rapid.SampledFrom(groups).Draw(t, "group"),
				Region:            region,
				KubernetesVersion: rapid.SampledFrom(ga).Draw(t, "kubernetesVersion"),
			}
			if strings.HasPrefix(m.KubernetesVersion, fmt.Sprintf("1.%d.", opt.Newest-4)) && rapid.Bool().Draw(t, "lts") {
				sc.LTS = append(sc.LTS, m.Name)
			}
			for p := range rapid.IntRange(1, 3).Draw(t, "pools") {
				fam := rapid.SampledFrom(families).Draw(t, "family")
				var imgs []string
				for _, r := range train.NodeImages {
					age := GenEpoch.Sub(r.Published)
					if strings.HasPrefix(r.Image, fam+"-") && age >= 2*7*24*time.Hour && age <= 10*7*24*time.Hour {
						imgs = append(imgs, r.Image)
					}
				}
				m.NodePools = append(m.NodePools, fleetupdate.NodePool{Name: fmt.Sprintf("pool%d", p), NodeImageVersion: rapid.SampledFrom(imgs).Draw(t, "image")})
			}
			switch rapid.IntRange(0, 2).Draw(t, "window") {
			case 1:
				m.AutoUpgradeWindow = &window.Schedule{DurationHours: 4, StartTime: "22:00", Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}}
				m.NodeOSUpgradeWindow = m.AutoUpgradeWindow
			case 2:
				day := rapid.SampledFrom(genWeekdays).Draw(t, "day")
				m.AutoUpgradeWindow = &window.Schedule{DurationHours: 8, StartTime: "01:00", Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: day}}}
				m.NodeOSUpgradeWindow = m.AutoUpgradeWindow
			}
			members = append(members, m)
		}
		sc.Fleet = train.Fleet(members)
		return sc
	})
}
