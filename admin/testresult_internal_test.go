package admin

import (
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
)

// TestTestResultWords: a kept test says how it went; one without its
// answer yet says it is being sent, and only one that stayed so longer
// than any answer takes says it was cut off. No answer shows no duration.
func TestTestResultWords(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		rec           directory.WebhookTestRecord
		delivered     bool
		error         string
		durationShown int64
	}{
		{"delivered", directory.WebhookTestRecord{SentAt: now.Add(-time.Hour), Finished: true, Status: 204, Duration: 12 * time.Millisecond}, true, "", 12},
		{"rejected", directory.WebhookTestRecord{SentAt: now.Add(-time.Hour), Finished: true, Status: 500, Error: "the endpoint answered 500", Duration: 30 * time.Millisecond}, false, "the endpoint answered 500", 30},
		{"no answer", directory.WebhookTestRecord{SentAt: now.Add(-time.Hour), Finished: true, Error: "no answer", Duration: 3 * time.Millisecond}, false, "no answer", 0},
		{"on its way", directory.WebhookTestRecord{SentAt: now.Add(-5 * time.Second)}, false, directory.TestStillSending, 0},
		{"still within a minute", directory.WebhookTestRecord{SentAt: now.Add(-time.Minute)}, false, directory.TestStillSending, 0},
		{"cut off", directory.WebhookTestRecord{SentAt: now.Add(-time.Minute - time.Second)}, false, directory.TestCutOff, 0},
	} {
		got := toTestResult(tc.rec, now)
		if got.Delivered != tc.delivered || got.Error != tc.error || got.DurationMS != tc.durationShown || got.Finished != tc.rec.Finished {
			t.Errorf("%s: %+v; want delivered %v, error %q, %d ms", tc.name, got, tc.delivered, tc.error, tc.durationShown)
		}
	}
}
