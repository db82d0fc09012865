//go:build !unix

package bench

import "time"

// cpuTime is not measured on this platform; cpu-ns/sample is then omitted.
func cpuTime() time.Duration { return 0 }
