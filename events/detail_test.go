package events_test

import (
	"context"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/fetch"
)

// TestDetailNamesTheAllowance: the operators' words for a refused attempt
// name the allow-list entry that would let an endpoint of theirs through;
// for an owner's endpoint, which the list never opens, they do not.
func TestDetailNamesTheAllowance(t *testing.T) {
	_, _, err := fetch.New(fetch.Config{}).Post(context.Background(), "http://127.0.0.1:1/hook", nil, []byte("{}"))
	if err == nil {
		t.Fatal("plain http to loopback was not refused")
	}
	if got := events.Detail(directory.Webhook{}, err).Error(); !strings.Contains(got, "add 127.0.0.1/32 to ADMIT_OUTBOUND_ALLOW") {
		t.Errorf("the operators' endpoint: %q; want the entry named", got)
	}
	if got := events.Detail(directory.Webhook{PublicOnly: true}, err).Error(); strings.Contains(got, "ADMIT_OUTBOUND_ALLOW") {
		t.Errorf("an owner's endpoint: %q; want no allow-list advice", got)
	}
}
