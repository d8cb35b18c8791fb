//go:build !linux

package scim

import "time"

// cpuTime is how long fn took, where the thread's own time cannot be read.
func cpuTime(fn func()) time.Duration { return wallTime(fn) }
