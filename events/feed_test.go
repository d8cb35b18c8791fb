package events_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
)

// TestFeedSaysWhenItCannotResume: a reader whose cursor is before events
// since swept is told they are gone (for every account's feed and for
// one's), not handed what follows as if nothing were missed; a cursor at
// the last swept event, or 0, reads on; a cursor past the end of the feed
// (a database restored from an older backup) is a conflict.
func TestFeedSaysWhenItCannotResume(t *testing.T) {
	eachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, openStore(t, url), clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		b := mustAccount(t, r.svc, "beta", "beta.example")
		addUser := func(acc directory.Account, email string) {
			must[directory.Added](t)(r.svc.AddUser(ctx, acc.ID, operator, directory.NewUser{Email: email, FirstName: "P", LastName: "Q", Role: directory.RoleMember}))
		}
		addUser(a, "old1@acme.example")
		start := clk.Now()
		clk.Add(40 * time.Second)
		addUser(b, "old@beta.example")
		addUser(a, "old2@acme.example")
		addUser(b, "old2@beta.example") // swept after acme's last
		clk.Add(20 * time.Second)
		if oldest, err := r.svc.OldestUnpublishedEvent(ctx); err != nil || oldest == nil || oldest.After(start) {
			t.Errorf("oldest unpublished event: %v, %v; want one made by %v, the first", oldest, err, start)
		}
		check(t, publishAll(r.svc))
		if oldest, err := r.svc.OldestUnpublishedEvent(ctx); err != nil || oldest != nil {
			t.Errorf("oldest unpublished event once all are published: %v, %v; want none", oldest, err)
		}
		old := feed(t, r.svc, "")
		first, lastOld := old[0].Seq, old[len(old)-1].Seq
		oldAcme := feed(t, r.svc, a.ID)
		lastOldAcme := oldAcme[len(oldAcme)-1].Seq

		clk.Add(31 * 24 * time.Hour)
		addUser(b, "new@beta.example") // beta's first: acme's feed resumes past it
		addUser(a, "new@acme.example")
		check(t, publishAll(r.svc))
		if _, err := r.svc.SweepEvents(ctx, 0); err != nil {
			t.Fatal(err)
		}
		kept := feed(t, r.svc, "")
		if len(kept) == 0 || kept[0].Seq != lastOld+1 {
			t.Fatalf("kept %d events from %v; want the new ones, from %d", len(kept), kept, lastOld+1)
		}
		last := kept[len(kept)-1].Seq

		for _, tc := range []struct {
			name    string
			account string
			after   int64
			kind    directory.Kind // 0: read on
		}{
			{"every account's, from before the sweep", "", first, directory.Gone},
			{"acme's, from before the sweep", a.ID, first, directory.Gone},
			{"every account's, from the last event swept", "", lastOld, 0},
			{"acme's, from the last event swept", a.ID, lastOld, 0},
			// Caught up with acme's events, it missed none: beta's swept
			// after them are not acme's reader's concern.
			{"acme's, from its own last event swept", a.ID, lastOldAcme, 0},
			{"beta's, from acme's last event swept", b.ID, lastOldAcme, directory.Gone},
			{"every account's, from a cursor no number reaches", "", math.MaxInt64, directory.Conflict},
			{"every account's, from the oldest kept", "", 0, 0},
			{"acme's, from the end", a.ID, last, 0},
			{"every account's, past the end", "", last + 5, directory.Conflict},
			{"acme's, past the end", a.ID, last + 1, directory.Conflict},
		} {
			evs, err := r.svc.Events(ctx, tc.account, tc.after, 100)
			switch {
			case tc.kind == 0 && err != nil:
				t.Errorf("%s: %v; want the events", tc.name, err)
			case tc.kind == 0 && tc.after < last && (len(evs) == 0 || evs[0].Seq <= tc.after):
				t.Errorf("%s: %d events; want those after %d", tc.name, len(evs), tc.after)
			case tc.kind != 0 && directory.KindOf(err) != tc.kind:
				t.Errorf("%s: %d events, %v; want %v", tc.name, len(evs), err, tc.kind)
			}
		}
		_, err := r.svc.Events(ctx, a.ID, first, 100)
		if msg := directory.Message(err); !strings.Contains(msg, "no longer kept") || !strings.Contains(msg, "cursor 0") || strings.ContainsAny(msg, "123456789") {
			t.Errorf("gone: %q; want it to say the events are no longer kept and where to read again, and no number of the feed", msg)
		}
		_, err = r.svc.Events(ctx, a.ID, last+1, 100)
		if msg := directory.Message(err); strings.ContainsAny(msg, "123456789") {
			t.Errorf("past the end: %q; want no number of the feed (an account's reader learns nothing of others' events)", msg)
		}

		// Everything swept: a cursor before the last number is gone, the
		// last one reads on, to nothing yet.
		clk.Add(31 * 24 * time.Hour)
		if _, err := r.svc.SweepEvents(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Events(ctx, "", last-1, 100); directory.KindOf(err) != directory.Gone {
			t.Errorf("everything swept, from before the last: %v; want Gone", err)
		}
		if evs, err := r.svc.Events(ctx, a.ID, last, 100); err != nil || len(evs) != 0 {
			t.Errorf("everything swept, from the last: %d, %v; want none, no error", len(evs), err)
		}
	})
}
