//go:build !unix

package forecast_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
