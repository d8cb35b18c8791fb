package bulk

import (
	"testing"

	"github.com/admit-dev/admit/directory"
)

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		counts  directory.ImportCounts
		planned bool
		want    string
	}{
		{directory.ImportCounts{Created: 1, Joined: 1, AlreadyMember: 1, Duplicate: 1, Failed: 1}, true,
			"1 new person, 1 joins this account, 1 already a member, 1 duplicate, 1 error."},
		{directory.ImportCounts{Created: 2, Joined: 2, AlreadyMember: 2, Duplicate: 2, Failed: 2}, true,
			"2 new people, 2 join this account, 2 already members, 2 duplicates, 2 errors."},
		{directory.ImportCounts{Joined: 1}, false,
			"0 new people, 1 joined this account, 0 already members, 0 duplicates, 0 errors."},
		{directory.ImportCounts{Created: 10000, Joined: 3}, false,
			"10000 new people, 3 joined this account, 0 already members, 0 duplicates, 0 errors."},
	} {
		if got := summary(tc.counts, tc.planned); got != tc.want {
			t.Errorf("summary(%+v, %v) = %q; want %q", tc.counts, tc.planned, got, tc.want)
		}
	}
}
