package store

import (
	"sync"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
)

// SQLite here is C translated to Go (modernc.org/sqlite), and its malloc
// is modernc.org/memory's allocator: 64 KiB pages, each cut into slots of
// one power-of-two size up to 16 KiB, and a page is unmapped the moment
// its last slot is freed. The driver compiles a statement at every
// execution and frees it after, so a statement's program (an op array of
// 8 KiB, in a 16 KiB slot) and a B-tree page split's scratch space came
// and went in a page of their own: each execution mapped fresh memory,
// faulted it in zeroed, and unmapped it. A bulk upload of 100,000 people
// spent about a quarter of its time on that.
//
// keepAllocatorPages keeps pages of every size class from 256 B to 16 KiB
// mapped with room for at least 48 blocks of that size, by holding one slot in each
// and freeing the others, so that a statement's memory is taken from them
// and given back to them. (With room for 12 blocks of 16 KiB, the second
// import in one process was as slow as before: connections opened between
// them had taken the room.) It maps 41 pages (2.6 MiB, about 1.2 MiB of
// it touched), once per process (the allocator is the process's). If the
// allocator's layout changes, this only holds a little memory for nothing.
var keepAllocatorPages = sync.OnceFunc(func() {
	const (
		pageSize = 64 << 10
		room     = 48
	)
	tls := libc.NewTLS()
	defer tls.Close()
	for log := 8; log <= 14; log++ {
		size := 1 << log
		perPage := pageSize/size - 1 // the page's header takes part of one slot
		var spare []uintptr
		for kept := 0; kept*(perPage-1) < room; kept++ {
			// The page's first slot is held: the page is never empty.
			_ = libc.Xmalloc(tls, types.Size_t(size))
			for range perPage - 1 {
				spare = append(spare, libc.Xmalloc(tls, types.Size_t(size)))
			}
		}
		for _, p := range spare {
			libc.Xfree(tls, p)
		}
	}
})
