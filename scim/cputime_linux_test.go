package scim

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is Linux's CLOCK_THREAD_CPUTIME_ID: the calling
// thread's time on a core, to the nanosecond (getrusage counts in ticks).
const clockThreadCPUTime = 3

// threadTime reads the calling thread's clock.
func threadTime() (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// cpuTime is how long fn ran on a core: the time of the thread it is
// locked to, not the time it waited for a core while other tests and
// packages took both (on a loaded machine, the wall clock's waits made a
// megabyte's linear reading look quadratic).
func cpuTime(fn func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, ok := threadTime()
	if !ok {
		return wallTime(fn)
	}
	fn()
	after, ok := threadTime()
	if !ok {
		return wallTime(fn)
	}
	return after - before
}
