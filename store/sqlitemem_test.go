package store

import (
	"syscall"
	"testing"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
)

// TestKeptAllocatorPages: after keepAllocatorPages, memory that SQLite
// takes and gives back at every statement comes from pages that stay
// mapped: taking and freeing a slot of each size class a thousand times
// maps (and faults in) next to no new memory. Without it every round of
// 1, 4, 8 and 16 KiB mapped a fresh page.
func TestKeptAllocatorPages(t *testing.T) {
	keepAllocatorPages()
	tls := libc.NewTLS()
	defer tls.Close()
	faults := func() int64 {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return ru.Minflt
	}
	const rounds = 1000
	for log := 8; log <= 14; log++ {
		size := types.Size_t(1) << log
		libc.Xfree(tls, libc.Xmalloc(tls, size))
		before := faults()
		for range rounds {
			libc.Xfree(tls, libc.Xmalloc(tls, size))
		}
		if n := faults() - before; n > rounds/10 {
			t.Errorf("slots of %d bytes: %d page faults in %d rounds; want next to none", size, n, rounds)
		}
	}
}
