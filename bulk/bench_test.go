package bulk_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// peopleFile is a CSV of n new people.
func peopleFile(n int) string {
	var b strings.Builder
	b.Grow(n * 40)
	b.WriteString("Email,First name,Last name\n")
	for i := range n {
		fmt.Fprintf(&b, "person%07d@acme.example,Person,Number %d\n", i, i)
	}
	return b.String()
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssKiB is the process's resident set size now (Linux).
func rssKiB(tb testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// dbCPU is the CPU time the PostgreSQL backends serving s's database
// have used (its server on this machine; 0 on SQLite or when /proc does
// not show them): the import's time is mostly theirs, and on a shared
// machine their CPU time says more than the wall clock.
func dbCPU(s *store.Store) time.Duration {
	if s.Dialect() != "postgres" {
		return 0
	}
	var pids []int
	if err := s.DB().Select(&pids, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`); err != nil {
		return 0
	}
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields 14 and 15 (utime, stime, in clock ticks of 1/100 s) follow
		// the command name in parentheses.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 13 {
			u, _ := strconv.Atoi(f[11])
			st, _ := strconv.Atoi(f[12])
			total += time.Duration(u+st) * 10 * time.Millisecond
		}
	}
	return total
}

// BenchmarkImport reads a CSV of 10,000 and of 100,000 new people and
// imports them in password mode, from the file to the last batch; it
// reports the seconds (wall, and this process's CPU) and, for 100,000,
// how much more RSS the process holds than after 10,000 (the issue asks <= 10 s on
// PostgreSQL, <= 20 s on SQLite, and < 50 MiB more RSS for 100,000 rows
// than for 10,000).
func BenchmarkImport(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		svc := newService(b, s)
		rss := map[int]int{}
		for _, n := range []int{10_000, 100_000} {
			b.Run(strconv.Itoa(n), func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					ctx := context.Background()
					a := mustAccount(b, svc, fmt.Sprintf("bench-%d-%d-%d", n, i, time.Now().UnixNano()%1e6))
					text := peopleFile(n)
					text = strings.ReplaceAll(text, "@acme.example", "@"+a.Slug+".example")
					runtime.GC()
					start, cpu, db := time.Now(), cpuTime(), dbCPU(s)
					tab, err := bulk.ReadTable(context.Background(), strings.NewReader(text), "", bulk.Limits{})
					if err != nil {
						b.Fatal(err)
					}
					m, _ := bulk.MapHeader(tab.Header)
					rows, err := tab.Rows(m)
					if err != nil {
						b.Fatal(err)
					}
					im, err := svc.CreateImport(ctx, a.ID, operator, directory.ImportSpec{Mode: directory.ImportPassword, Password: "a shared initial secret"}, bulk.ImportRows(rows))
					if err != nil {
						b.Fatal(err)
					}
					tab, rows, text = nil, nil, ""
					r := &bulk.Runner{Service: svc}
					done, err := r.RunNow(ctx, im.ID)
					if err != nil || done.Counts.Created != n {
						b.Fatalf("import: %+v %v", done.Counts, err)
					}
					b.ReportMetric(time.Since(start).Seconds(), "s/import")
					// On a shared machine the wall time mostly measures the
					// others' load; this process's own CPU time does not.
					b.ReportMetric((cpuTime() - cpu).Seconds(), "cpu-s/import")
					if s.Dialect() == "postgres" {
						b.ReportMetric((dbCPU(s) - db).Seconds(), "db-cpu-s/import")
					}
					runtime.GC()
					rss[n] = rssKiB(b)
					if n == 100_000 && rss[10_000] > 0 {
						b.ReportMetric(float64(rss[100_000]-rss[10_000])/1024, "MiB-RSS-growth-from-10k")
					}
				}
			})
		}
	})
}
