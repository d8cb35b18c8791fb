package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

// auditRow is an audit event as the console shows it: its data as
// "key: value" lines an admin reads, and as written (JSON) for support.
type auditRow struct {
	directory.AuditEvent
	Fields []auditField
	// More is true when the data holds more than the lines show: the
	// JSON has it all.
	More bool
	// Raw is the data as written; empty when there is none ({}).
	Raw string
}

// auditField is one line of an event's data: its key, after the keys of
// the objects it is in (settings.jit_mode), and its value.
type auditField struct {
	Key, Value string
}

// The bounds of one event's lines: the data is admit's, but the values
// in it (names, addresses, group names) come from outside.
const (
	maxAuditFields = 40
	maxAuditDepth  = 8
)

func auditRows(events []directory.AuditEvent) []auditRow {
	rows := make([]auditRow, len(events))
	for i, e := range events {
		rows[i] = auditRow{AuditEvent: e}
		rows[i].Fields, rows[i].More = auditFields(e.Data)
		if raw := string(bytes.TrimSpace(e.Data)); raw != "{}" && raw != "null" {
			rows[i].Raw = raw
		}
	}
	return rows
}

// auditFields flattens an event's data, each object's keys in order. An
// object's keys follow the key of the object they are in, after a dot; a
// list of plain values is one line, its values joined by commas; the
// elements of any other list are numbered (roles_changed.1.role). An
// empty object, list or string, or null, is "none"; true and false are
// "yes" and "no"; a time reads as the console's other times do. Data that
// is not one JSON object has no lines (the page shows its JSON); past the
// bounds the lines stop, and more is true.
func auditFields(data []byte) (fields []auditField, more bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSON(dec, 0)
	if err != nil || v.kind != '{' {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false // more than one value
	}
	f := flattener{more: v.deep}
	f.members("", v)
	return f.fields, f.more
}

// jsonValue is a JSON value as read: an object keeps each of its keys,
// even one written twice, which a map would not.
type jsonValue struct {
	kind   byte // '{', '[' or 0 for a plain value
	plain  string
	keys   []string    // of an object
	vals   []jsonValue // of an object (by key) or a list
	isNull bool
	deep   bool // something below was past maxAuditDepth and left out
}

// readJSON reads the next value, at most maxAuditDepth objects and lists
// deep: what is deeper is read past, and marked.
func readJSON(dec *json.Decoder, depth int) (jsonValue, error) {
	t, err := dec.Token()
	if err != nil {
		return jsonValue{}, err
	}
	d, nested := t.(json.Delim)
	if !nested {
		return jsonValue{plain: plainValue(t), isNull: t == nil}, nil
	}
	v := jsonValue{kind: byte(d)}
	for dec.More() {
		key := ""
		if d == '{' {
			if t, err = dec.Token(); err != nil {
				return jsonValue{}, err
			}
			key, _ = t.(string)
		}
		if depth+1 >= maxAuditDepth {
			// Read past it, without keeping it (Decode bounds its nesting).
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return jsonValue{}, err
			}
			v.deep = true
			continue
		}
		child, err := readJSON(dec, depth+1)
		if err != nil {
			return jsonValue{}, err
		}
		v.deep = v.deep || child.deep
		if d == '{' {
			v.keys = append(v.keys, key)
		}
		v.vals = append(v.vals, child)
	}
	_, err = dec.Token() // the closing '}' or ']'
	return v, err
}

// plainValue words a string, number, true, false or null.
func plainValue(t json.Token) string {
	switch t := t.(type) {
	case string:
		if t == "" {
			return "none" // a setting left empty, as the pages say it
		}
		if at, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return at.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return t
	case json.Number:
		return t.String()
	case bool:
		if t {
			return "yes"
		}
		return "no"
	}
	return "none"
}

type flattener struct {
	fields []auditField
	more   bool
}

func (f *flattener) add(key, value string) {
	if len(f.fields) == maxAuditFields {
		f.more = true
		return
	}
	f.fields = append(f.fields, auditField{key, value})
}

func (f *flattener) flatten(key string, v jsonValue) {
	switch {
	case v.kind == 0:
		f.add(key, v.plain)
	case len(v.vals) == 0 && !v.deep:
		f.add(key, "none")
	case v.kind == '{':
		f.members(key+".", v)
	case plainList(v.vals):
		values := make([]string, len(v.vals))
		for i, e := range v.vals {
			values[i] = e.plain
		}
		f.add(key, strings.Join(values, ", "))
	default:
		for i, e := range v.vals {
			f.flatten(key+"."+strconv.Itoa(i+1), e)
		}
	}
}

// members flattens an object's members, by key: the stores keep an
// event's keys in different orders (PostgreSQL's jsonb, shortest first),
// and an event reads the same on both.
func (f *flattener) members(prefix string, v jsonValue) {
	order := make([]int, len(v.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return strings.Compare(v.keys[i], v.keys[j]) })
	for _, i := range order {
		f.flatten(prefix+v.keys[i], v.vals[i])
	}
}

// plainList reports whether a list holds plain values only (no null,
// which a joined line could not tell from the word).
func plainList(vals []jsonValue) bool {
	for _, v := range vals {
		if v.kind != 0 || v.isNull {
			return false
		}
	}
	return true
}
