package directory

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MemberSort is the order of a member listing.
type MemberSort string

const (
	SortEmail  MemberSort = "email" // the default
	SortName   MemberSort = "name"  // first name, then last name
	SortSignIn MemberSort = "sign_in"
	SortJoined MemberSort = "created" // when the membership was made
)

// MemberSorts lists the orders a member listing can take.
func MemberSorts() []MemberSort { return []MemberSort{SortEmail, SortName, SortSignIn, SortJoined} }

// sortCursorMark starts a cursor of any order but email ascending, whose
// cursors keep the older form (an email key and a user id). No email key
// holds a control character, so the two cannot be confused.
const sortCursorMark = "\x01"

// sortKey is the value of the listing's order for m, as the store
// compares it: the keys the memberships table keeps (store.searchKeys
// computes the same), or a time. never says m sorts among the people who
// never signed in, who come last in a listing by sign-in, by email.
func sortKey(by MemberSort, m Member) (key string, never bool) {
	switch by {
	case SortName:
		return strings.ToLower(m.User.FirstName + " " + m.User.LastName), false
	case SortJoined:
		return m.Membership.CreatedAt.UTC().Format(time.RFC3339Nano), false
	case SortSignIn:
		if m.Membership.LastSignInAt == nil {
			return EmailKey(m.User.Email), true
		}
		return m.Membership.LastSignInAt.UTC().Format(time.RFC3339Nano), false
	}
	return EmailKey(m.User.Email), false
}

// pageCursor is where the next page of a listing in q's order begins.
func pageCursor(q MemberQuery, last Member) string {
	key, never := sortKey(q.Sort, last)
	if q.Sort == SortEmail && !q.Desc {
		return encodeCursor(key, last.User.ID)
	}
	order := string(q.Sort)
	if q.Desc {
		order += "-"
	}
	if never {
		order += "~"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(sortCursorMark + order + "\x00" + key + "\x00" + last.User.ID))
}

// readCursor sets q's place from a cursor made by pageCursor for the same
// order: a cursor of another order is refused rather than misread.
func readCursor(q *MemberQuery, c string) error {
	invalid := InvalidError("the page cursor is not valid; start the listing again")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return invalid
	}
	if !strings.HasPrefix(string(b), sortCursorMark) {
		if q.Sort != SortEmail || q.Desc {
			return invalid
		}
		q.AfterEmailKey, q.AfterUserID, err = decodeCursor(c)
		return err
	}
	parts := strings.Split(strings.TrimPrefix(string(b), sortCursorMark), "\x00")
	if len(parts) != 3 || parts[2] == "" {
		return invalid
	}
	order, never := strings.CutSuffix(parts[0], "~")
	want := string(q.Sort)
	if q.Desc {
		want += "-"
	}
	if order != want || never && q.Sort != SortSignIn {
		return invalid
	}
	q.AfterKey, q.AfterUserID, q.AfterNever = parts[1], parts[2], never
	if (q.Sort == SortJoined || q.Sort == SortSignIn && !never) && !validTime(parts[1]) {
		return invalid
	}
	return nil
}

func validTime(s string) bool { _, err := time.Parse(time.RFC3339Nano, s); return err == nil }

func checkSort(by MemberSort) string {
	if by != "" && !slices.Contains(MemberSorts(), by) {
		return fmt.Sprintf("there is no order %q (orders: email, name, sign_in, created)", by)
	}
	return ""
}
