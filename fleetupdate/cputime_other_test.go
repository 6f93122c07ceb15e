//go:build !unix

package fleetupdate

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
