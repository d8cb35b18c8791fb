package admin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAuditFields: an event's data reads as key: value lines, each
// object's keys in order, nested keys after their object's, plain lists on one
// line, other lists numbered, and no line for data that is not one
// object; past the bounds the lines stop and say there is more.
func TestAuditFields(t *testing.T) {
	type f = auditField
	deep := strings.Repeat(`{"a":`, maxAuditDepth+2) + `1` + strings.Repeat(`}`, maxAuditDepth+2)
	var many strings.Builder
	many.WriteString("{")
	for i := range maxAuditFields + 5 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	many.WriteString("}")
	for _, tc := range []struct {
		name string
		data string
		want []auditField
		more bool
	}{
		{"keys in order", `{"role":"member","email":"ann@acme.example","expires_at":"2026-12-11T12:42:24.320021Z"}`,
			[]f{{"email", "ann@acme.example"}, {"expires_at", "2026-12-11 12:42:24 UTC"}, {"role", "member"}}, false},
		{"plain values", `{"n":42,"x":1.5e3,"ok":true,"no":false,"none":null,"empty":""}`,
			[]f{{"empty", "none"}, {"n", "42"}, {"no", "no"}, {"none", "none"}, {"ok", "yes"}, {"x", "1.5e3"}}, false},
		{"a key twice", `{"a":1,"a":2}`, []f{{"a", "1"}, {"a", "2"}}, false},
		{"as written, markup and all", `{"last_name":"Smith & Sons <UK>"}`, []f{{"last_name", "Smith & Sons <UK>"}}, false},
		{"nested objects", `{"name":"okta","settings":{"jit_mode":"create","fields":{"email":"mail"}}}`,
			[]f{{"name", "okta"}, {"settings.fields.email", "mail"}, {"settings.jit_mode", "create"}}, false},
		{"a list of plain values", `{"domains":["acme.example","acme.test"]}`, []f{{"domains", "acme.example, acme.test"}}, false},
		{"empty object and list", `{"settings":{},"domains":[]}`, []f{{"domains", "none"}, {"settings", "none"}}, false},
		{"a list of objects", `{"roles_changed":[{"email":"a@x","role":"admin"},{"email":"b@x","role":"member"}]}`,
			[]f{{"roles_changed.1.email", "a@x"}, {"roles_changed.1.role", "admin"}, {"roles_changed.2.email", "b@x"}, {"roles_changed.2.role", "member"}}, false},
		{"a mixed list", `{"l":["a",null,["b"]]}`, []f{{"l.1", "a"}, {"l.2", "none"}, {"l.3", "b"}}, false},
		{"a key with a dot", `{"a.b":{"c":1}}`, []f{{"a.b.c", "1"}}, false},
		{"too deep", deep, nil, true},
		{"too many", many.String(), nil, true},
		{"empty", `{}`, nil, false},
		{"not an object", `["a"]`, nil, false},
		{"a plain value", `"a"`, nil, false},
		{"null", `null`, nil, false},
		{"broken", `{"a":`, nil, false},
		{"two values", `{"a":1}{"b":2}`, nil, false},
		{"nothing", ``, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, more := auditFields([]byte(tc.data))
			if tc.name == "too many" {
				if len(got) != maxAuditFields || !more {
					t.Errorf("%d lines, more %v; want %d and more", len(got), more, maxAuditFields)
				}
				return
			}
			if tc.name == "too deep" {
				if more != true {
					t.Errorf("more = %v; want true (%v)", more, got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || more != tc.more {
				t.Errorf("more %v (want %v); lines (-want +got)\n%s", more, tc.more, diff)
			}
		})
	}
}

// FuzzAuditFields: whatever an event's data holds, its lines are at most
// maxAuditFields, and valid JSON objects of plain values give each value
// a line; nothing panics.
func FuzzAuditFields(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,{"c":null}]}}`, `{"l":[]}`, `[`, `{"a":"2026-12-11T12:42:24Z"}`, `{"a":1}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, _ := auditFields(data)
		if len(fields) > maxAuditFields {
			t.Fatalf("%d lines", len(fields))
		}
		var flat map[string]string
		if json.Unmarshal(data, &flat) == nil && len(flat) <= maxAuditFields && fields == nil && len(flat) > 0 {
			t.Fatalf("an object of %d strings has no lines: %q", len(flat), data)
		}
	})
}
