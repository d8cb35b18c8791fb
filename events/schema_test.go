package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// compileSchemas compiles every schema in events.Schemas, by event type,
// with formats (date-time) asserted.
func compileSchemas(t testing.TB) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := fs.Glob(events.Schemas, "schemas/*.json")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		b, err := fs.ReadFile(events.Schemas, f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource(f, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sch, err := c.Compile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(f, "schemas/"), ".json")] = sch
	}
	return out
}

func TestEverySchemaIsAnEventType(t *testing.T) {
	schemas := compileSchemas(t)
	var have []string
	for typ := range schemas {
		have = append(have, typ)
	}
	slices.Sort(have)
	want := slices.Sorted(slices.Values(append(slices.Clone(directory.EventTypes), directory.EventWebhookTest)))
	if !slices.Equal(have, want) {
		t.Errorf("schemas %v; want one per event type %v, and the test event's", have, want)
	}
}

// TestEmittedEventsValidate drives the directory through what SCIM, SSO,
// invitations and admins do, and checks every event it emits against its
// type's schema, and that every type was emitted.
func TestEmittedEventsValidate(t *testing.T) {
	schemas := compileSchemas(t)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		emitRealisticRun(t, svc)
		if _, err := svc.PublishEvents(ctx, 10000); err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events(ctx, "", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		// Every cause the documentation gives: each reason of a role
		// change, and each door a membership is deleted through.
		causes := map[string]bool{}
		for _, ev := range evs {
			seen[ev.Type]++
			switch ev.Type {
			case directory.EventMembershipRoleChanged:
				var d struct{ Reason string }
				_ = json.Unmarshal(ev.Data, &d)
				causes["role_changed "+d.Reason] = true
			case directory.EventMembershipDeleted:
				causes["deleted by "+ev.Actor.Type] = true
			}
			raw, _ := json.Marshal(ev)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			sch, ok := schemas[ev.Type]
			if !ok {
				t.Errorf("event %s has no schema", ev.Type)
				continue
			}
			if err := sch.Validate(doc); err != nil {
				t.Errorf("%s does not validate: %v\n%s", ev.Type, err, raw)
			}
		}
		t.Logf("events emitted: %v", seen)
		for _, typ := range directory.EventTypes {
			if seen[typ] == 0 {
				t.Errorf("no %s event emitted by the run", typ)
			}
		}
		for _, c := range []string{"role_changed admin", "role_changed group-to-role mapping", "deleted by scim_token", "deleted by operator", "deleted by api_key"} {
			if !causes[c] {
				t.Errorf("the run emitted no membership event %s (it emitted %v)", c, causes)
			}
		}
	})
}

// TestSchemasRefuseWrongEvents checks that the schemas do check: an event
// that breaks its contract is refused.
func TestSchemasRefuseWrongEvents(t *testing.T) {
	schemas := compileSchemas(t)
	good := `{"id":"e1","type":"user.created","version":1,"account":"a1","occurred_at":"2026-12-01T10:00:00Z",
		"actor":{"type":"scim_token","id":"t1"},"data":{"user_id":"u1","email":"a@b.example","first_name":"A","last_name":"B"}}`
	cases := []struct{ name, from, to string }{
		{"another type", `"type":"user.created"`, `"type":"user.updated"`},
		{"another version", `"version":1`, `"version":2`},
		{"no account", `"account":"a1",`, ``},
		{"a time that is not one", `"2026-12-01T10:00:00Z"`, `"yesterday"`},
		{"an unknown actor", `"type":"scim_token"`, `"type":"robot"`},
		{"data without the user", `"user_id":"u1",`, ``},
		{"data with an unknown field", `"last_name":"B"`, `"last_name":"B","password":"x"`},
	}
	ok, _ := jsonschema.UnmarshalJSON(strings.NewReader(good))
	if err := schemas["user.created"].Validate(ok); err != nil {
		t.Fatalf("the good event is refused: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.from, tc.to, 1)
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			if schemas["user.created"].Validate(doc) == nil {
				t.Errorf("validates: %s", bad)
			}
		})
	}
}
