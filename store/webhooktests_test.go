package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestWebhookTestsKept: a webhook keeps its newest test events, newest
// first, one kept before it is sent stays unfinished until its answer is
// recorded, the older ones beyond the bound are forgotten (another
// webhook's are not), and they go with their webhook.
func TestWebhookTestsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		for _, id := range []string{"wh1", "wh2"} {
			if err := s.CreateWebhook(ctx, directory.Webhook{ID: id, URL: "https://hooks.example/" + id, Secret: "s", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateWebhookTest(ctx, directory.WebhookTestRecord{EventID: "other", WebhookID: "wh2", SentAt: now, SentBy: "bo"}, 3); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			rec := directory.WebhookTestRecord{EventID: fmt.Sprint("evt", i), WebhookID: "wh1", SentAt: now.Add(time.Duration(i) * time.Second), SentBy: "ada"}
			if err := s.CreateWebhookTest(ctx, rec, 3); err != nil {
				t.Fatal(err)
			}
			if i == 4 {
				continue // cut off: no answer recorded
			}
			rec.Finished, rec.Status, rec.Error, rec.Duration = true, 500, "the endpoint answered 500", 12*time.Millisecond
			if err := s.FinishWebhookTest(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.FindWebhookTests(ctx, "wh1", 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []directory.WebhookTestRecord{
			{EventID: "evt4", WebhookID: "wh1", SentAt: now.Add(4 * time.Second), SentBy: "ada"},
			{EventID: "evt3", WebhookID: "wh1", SentAt: now.Add(3 * time.Second), SentBy: "ada", Finished: true, Status: 500, Error: "the endpoint answered 500", Duration: 12 * time.Millisecond},
			{EventID: "evt2", WebhookID: "wh1", SentAt: now.Add(2 * time.Second), SentBy: "ada", Finished: true, Status: 500, Error: "the endpoint answered 500", Duration: 12 * time.Millisecond},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("kept\n%v\nwant\n%v", got, want)
		}
		if got, err := s.FindWebhookTests(ctx, "wh1", 1); err != nil || len(got) != 1 || got[0].EventID != "evt4" {
			t.Errorf("newest one: %v, %v", got, err)
		}
		if got, err := s.FindWebhookTests(ctx, "wh2", 10); err != nil || len(got) != 1 {
			t.Errorf("another webhook's: %v, %v; want its one, kept", got, err)
		}
		if err := s.DeleteWebhook(ctx, "wh1"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.FindWebhookTests(ctx, "wh1", 10); err != nil || len(got) != 0 {
			t.Errorf("after the webhook was removed: %v, %v; want none", got, err)
		}
	})
}
