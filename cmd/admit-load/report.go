package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// report is one run's figures.
type report struct {
	users, clients         int
	bareInsert, create     stats
	bareSelect, filter     stats
	pageFirst, pageLast    stats
	memberSmall, memberBig stats
	deactivate             stats
	groupBuild             time.Duration
	census                 census
	outage                 *outage // the fault run's, instead of the rest
}

// target is one line of issue 15's table, judged on a run.
type target struct {
	work, want, got string
	met             bool
}

// flat is how much slower the deep or large case may be and still count
// as flat: timings on a shared machine vary 15-25% from run to run.
const flat = 1.5

func (r *report) targets() []target {
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	create := ratio(r.create.rate(), r.bareInsert.rate())
	filterP99 := ratio(float64(r.filter.p99), float64(r.bareSelect.p99))
	filterRate := ratio(r.filter.rate(), r.bareSelect.rate())
	paging := ratio(float64(r.pageLast.p50), float64(r.pageFirst.p50))
	member := ratio(float64(r.memberBig.p50), float64(r.memberSmall.p50))
	return []target{
		{"create POST /Users", ">= 25% of bare INSERT rate", fmt.Sprintf("%.0f%%", 100*create), create >= 0.25},
		{"filter userName eq: p99", "<= 2x bare SELECT p99", fmt.Sprintf("%.1fx", filterP99), filterP99 <= 2},
		{"filter userName eq: rate", ">= 40% of bare SELECT rate", fmt.Sprintf("%.0f%%", 100*filterRate), filterRate >= 0.40},
		{"paging: last page vs first (p50)", fmt.Sprintf("flat (<= %.1fx)", flat), fmt.Sprintf("%.2fx", paging), paging <= flat},
		{fmt.Sprintf("member PATCH: group of %d vs small (p50)", r.users), fmt.Sprintf("flat (<= %.1fx)", flat), fmt.Sprintf("%.2fx", member), member <= flat},
		{fmt.Sprintf("group of %d members, one POST", r.users), "<= 2 s", fmt.Sprintf("%.2f s", r.groupBuild.Seconds()), r.groupBuild <= 2*time.Second},
		{"Entra Replace active=false", ">= 1,500/s", fmt.Sprintf("%.0f/s", r.deactivate.rate()), r.deactivate.rate() >= 1500},
	}
}

func (r *report) allMet() bool {
	for _, t := range r.targets() {
		if !t.met {
			return false
		}
	}
	return true
}

func (r *report) print(w io.Writer) {
	if r.outage != nil {
		r.outage.print(w)
		return
	}
	fmt.Fprintf(w, "\nadmit SCIM on PostgreSQL, %d clients, %d users\n\n", r.clients, r.users)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "work\trequests\trate/s\tp50\tp99\t")
	line := func(name string, s stats) {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%v\t%v\t\n", name, s.n, s.rate(), ms(s.p50), ms(s.p99))
	}
	line("bare INSERT (lib/pq)", r.bareInsert)
	line("create POST /Users", r.create)
	line("bare point SELECT (lib/pq)", r.bareSelect)
	line("filter userName eq", r.filter)
	line("paging, first 100", r.pageFirst)
	line("paging, last 100", r.pageLast)
	line("member PATCH, small group", r.memberSmall)
	line(fmt.Sprintf("member PATCH, group of %d", r.users), r.memberBig)
	line("Entra Replace active=false", r.deactivate)
	fmt.Fprintf(tw, "group POST with %d members\t1\t\t%v\t\t\n", r.users, ms(r.groupBuild))
	tw.Flush()
	fmt.Fprintf(w, "\ndatabase round trips per request (one client, through a counting relay)\n%s\n", r.census)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "target\twant\tgot\t\t")
	for _, t := range r.targets() {
		verdict := "met"
		if !t.met {
			verdict = "NOT MET"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", t.work, t.want, t.got, verdict)
	}
	tw.Flush()
}

// ms shows a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
