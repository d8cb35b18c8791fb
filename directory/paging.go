package directory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Position is where a page of a SCIM listing starts: just after the
// resource with SCIM id After when the end of the previous page is known,
// else after Offset matches.
type Position struct {
	After  string
	Offset int
}

// SCIMCursor remembers where a page of a listing ended: the page that
// starts at StartIndex continues after AfterID.
type SCIMCursor struct {
	AccountID  string
	ListKey    string
	StartIndex int
	AfterID    string
	ExpiresAt  time.Time
}

// cursorLifetime is how long the end of a page is remembered; a full sync
// of an identity provider reads its next page within seconds.
const cursorLifetime = time.Hour

// SCIM clients page with startIndex (RFC 7644 §3.4.2.4), which an SQL
// OFFSET serves at a cost that grows with the index and which skips
// resources when earlier ones are deleted between two pages. So admit
// remembers where each page ended, keyed by the listing (resource type and
// filter) and the startIndex that follows it, and continues the next page
// by key: an index seek, whatever the depth, and deletions behind the
// position move nothing. A startIndex with no remembered position (a
// client jumping ahead) falls back to OFFSET.

// listKey identifies a listing: the same resource type and filter.
func listKey(resource string, f *Filter) string {
	sum := sha256.Sum256([]byte(resource + "\x00" + f.String()))
	return hex.EncodeToString(sum[:16])
}

// position finds where the page at startIndex begins.
func (s *Service) position(ctx context.Context, accountID, key string, startIndex int) (Position, error) {
	if startIndex <= 1 {
		return Position{}, nil
	}
	after, err := s.store.FindSCIMCursor(ctx, accountID, key, startIndex, s.clock())
	switch {
	case err == nil:
		return Position{After: after}, nil
	case KindOf(err) == NotFound:
		return Position{Offset: startIndex - 1}, nil
	}
	return Position{}, fmt.Errorf("find SCIM cursor: %w", err)
}

// rememberEnd records that the page following one that ended at lastID
// starts at next. Failing to record it costs only speed, so it is logged,
// not returned: the page itself is already correct.
func (s *Service) rememberEnd(ctx context.Context, accountID, key string, next int, lastID string) {
	c := SCIMCursor{AccountID: accountID, ListKey: key, StartIndex: next, AfterID: lastID, ExpiresAt: s.clock().Add(cursorLifetime)}
	if err := s.store.SaveSCIMCursor(ctx, c); err != nil {
		s.log.WarnContext(ctx, "remember the end of a SCIM page", "err", err)
	}
}

// listPage serves one page of a SCIM listing of resource: the true count
// of matches, and count of them from the 1-based startIndex, continuing
// after the previous page's end when it is known. idOf gives the SCIM id
// a listing is ordered by.
//
// whole says that find returns count items whenever that many remain: a
// first page shorter than count is then every match, and its length is
// the total without counting. That is the page of every lookup an
// identity provider makes (userName eq "...").
func listPage[T any](ctx context.Context, s *Service, accountID, resource string, f *Filter, startIndex, count int, whole bool,
	countAll func() (int, error), find func(Position, int) ([]T, error), idOf func(T) string) (int, []T, error) {
	if err := f.Check(); err != nil {
		return 0, nil, err
	}
	startIndex, count = max(startIndex, 1), min(max(count, 0), MaxPageSize)
	var first []T
	if whole && startIndex == 1 && count > 0 {
		var err error
		if first, err = find(Position{}, count); err != nil || len(first) < count {
			return len(first), first, err
		}
	}
	total, err := countAll()
	if err != nil || count == 0 {
		return total, nil, err
	}
	key := listKey(resource, f)
	pos, err := s.position(ctx, accountID, key, startIndex)
	if err != nil {
		return 0, nil, err
	}
	// Past the end, unless the previous page's end is known: resources
	// deleted since then shrink the total, not what is left to list.
	if pos.After == "" && startIndex > total {
		return total, nil, nil
	}
	items := first
	if items == nil {
		if items, err = find(pos, count); err != nil {
			return 0, nil, err
		}
	}
	// A page may hold fewer than count (a group listing bounds the
	// members it carries): remember its end whenever more follow.
	if n := len(items); n > 0 && (n == count || startIndex+n <= total) {
		s.rememberEnd(ctx, accountID, key, startIndex+n, idOf(items[n-1]))
	}
	return total, items, nil
}

// String is a canonical text of the filter: equal filters, equal text.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f *Filter) write(b *strings.Builder) {
	switch f.Op {
	case OpAnd, OpOr:
		b.WriteString("(")
		f.Left.write(b)
		b.WriteString(" " + string(f.Op) + " ")
		f.Right.write(b)
		b.WriteString(")")
	case OpNot:
		b.WriteString("not(")
		f.Left.write(b)
		b.WriteString(")")
	default:
		fmt.Fprintf(b, "%s %s ", f.Field, f.Op)
		switch v := f.Value.(type) {
		case time.Time:
			b.WriteString(v.UTC().Format(time.RFC3339Nano))
		case string:
			fmt.Fprintf(b, "%q", v)
		default:
			fmt.Fprintf(b, "%v", v)
		}
	}
}
