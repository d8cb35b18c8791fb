package scim

import (
	"reflect"
	"strings"
)

// A multi-valued attribute has at most one value marked primary: RFC 7643
// §2.4 says the primary value "MUST appear no more than once", and RFC
// 7644 §3.5.2 has a PATCH that makes a value primary "automatically set
// primary to false for any other values in the array". Identity providers
// add a new primary email beside the old one (Okta, when a person's
// address changes): kept as sent, two values were primary, and admit read
// the old one as the person's address.

// marked is the values of a resource's multi-valued attributes that were
// marked primary, by identity. It holds the values themselves, not only
// their addresses: a value dropped by a PATCH operation must not be freed
// and its address given to a new one, which would then pass for it.
type marked struct {
	at   map[uintptr]bool
	kept []map[string]any
}

func (m marked) has(el map[string]any) bool { return m.at[reflect.ValueOf(el).Pointer()] }

// primaryValues returns the values of res's multi-valued attributes (its
// own and its extensions') that are marked primary.
func primaryValues(res map[string]any) marked {
	m := marked{at: map[uintptr]bool{}}
	eachList(res, func(list []any) {
		for _, v := range list {
			if el, ok := v.(map[string]any); ok && el["primary"] == true {
				m.at[reflect.ValueOf(el).Pointer()] = true
				m.kept = append(m.kept, el)
			}
		}
	})
	return m
}

// onePrimary leaves one value of each multi-valued attribute of res marked
// primary: the first of those marked since was (primaryValues before a
// PATCH operation; the zero marked for a POST or PUT, whose values are all
// new), else the first marked. Every other is marked primary false.
func onePrimary(res map[string]any, was marked) {
	eachList(res, func(list []any) {
		var marked []map[string]any
		keep := -1
		for _, v := range list {
			if el, ok := v.(map[string]any); ok && el["primary"] == true {
				if keep < 0 && !was.has(el) {
					keep = len(marked)
				}
				marked = append(marked, el)
			}
		}
		if len(marked) < 2 {
			return
		}
		keep = max(keep, 0)
		for i, el := range marked {
			if i != keep {
				el["primary"] = false
			}
		}
	})
}

// eachList calls fn with each multi-valued attribute of res, and of the
// extensions in it.
func eachList(res map[string]any, fn func([]any)) {
	for k, v := range res {
		switch v := v.(type) {
		case []any:
			fn(v)
		case map[string]any:
			if strings.HasPrefix(strings.ToLower(k), "urn:") {
				eachList(v, fn)
			}
		}
	}
}
