package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// A change made with an API key is an event whose actor is the key
// (actor.type api_key), and it validates against its schema.
func TestAPIKeyEventsValidate(t *testing.T) {
	schemas := compileSchemas(t)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		cli := directory.Actor{Source: directory.SourceCLI}
		a, err := svc.CreateAccount(ctx, cli, directory.NewAccount{Slug: "alpha", Name: "Alpha"})
		if err != nil {
			t.Fatal(err)
		}
		_, k, err := svc.CreateAPIKey(ctx, a.ID, cli, "billing sync")
		if err != nil {
			t.Fatal(err)
		}
		adm, err := svc.KeyAdmin(ctx, k, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddMember(ctx, adm, directory.NewUser{Email: "ann@alpha.test", FirstName: "Ann", LastName: "Lee"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.PublishEvents(ctx, 100); err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events(ctx, a.ID, 0, 100)
		if err != nil || len(evs) == 0 {
			t.Fatalf("events: %d, %v", len(evs), err)
		}
		for _, ev := range evs {
			if ev.Actor != (directory.EventActor{Type: "api_key", ID: k.ID, Name: "billing sync"}) {
				t.Errorf("%s actor: %+v", ev.Type, ev.Actor)
			}
			raw, _ := json.Marshal(ev)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := schemas[ev.Type].Validate(doc); err != nil {
				t.Errorf("%s does not validate: %v", ev.Type, err)
			}
		}
	})
}
