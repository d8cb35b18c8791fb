package scim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/admit-dev/admit/directory"
)

// readFilter reads a SCIM filter (RFC 7644 §3.4.2.2) into the expression
// types of scim2/filter-parser, which convert maps to a directory.Filter.
//
// admit reads filters itself rather than with that library's parser, whose
// types it keeps: the library recurses once per parenthesis with no bound
// (100,000 of them overflow the stack, which ends the process), takes
// seconds to read a filter of a megabyte, and says where a filter is wrong
// only as "parse conflict [00:001]: expected op.Or or[func func func func]".
// This reader reads in one pass, stops at directory.MaxFilterTerms, and
// says where it stopped and what it expected there.
//
// It reads what the library reads the same way (FuzzParseFilter and
// TestReadsAsTheLibrary compare them), and a little more: spaces before
// and after the filter, filters of any shape inside brackets, and a
// comparison on a sub-attribute after them, emails[type eq
// "work"].value eq "a@b.example", which identity providers send although
// the RFC's filter grammar has it only in PATCH paths: it reads as
// emails[type eq "work" and value eq "a@b.example"]. The one thing it
// reads less of is and and or inside brackets without spaces around them
// (emails[type eq "work"and primary eq true]), which the library takes
// and RFC 7644's grammar does not. As in the library, a string keeps the
// escapes it was sent with.
func readFilter(raw string) (filter.Expression, error) {
	p := &filterReader{s: raw, what: "filter"}
	p.spaces()
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.spaces(); p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ')':
			return nil, p.fail("and, or or the end of the filter; this ) closes no (")
		case ']':
			return nil, p.fail("and, or or the end of the filter; this ] closes no [")
		}
		return nil, p.fail("and, or or the end of the filter")
	}
	return e, nil
}

// readPath reads the path of a PATCH operation (RFC 7644 §3.5.2: an
// attribute, or one with a value filter and a sub-attribute after it,
// emails[type eq "work"].value) into scim2/filter-parser's Path, as
// readFilter reads a filter: a PATCH body of a megabyte may hold a
// megabyte of paths, which that library's parser took seconds over.
func readPath(raw string) (filter.Path, error) {
	p := &filterReader{s: raw, what: "path"}
	attr, err := p.attrPath("an attribute, such as title, name.givenName or emails[type eq \"work\"].value")
	if err != nil {
		return filter.Path{}, err
	}
	path := filter.Path{AttributePath: attr}
	// Spaces may stand before a filter in [ ] (as the library took them),
	// nowhere else.
	if at := p.pos; p.spaces() == 0 || p.pos >= len(p.s) || p.s[p.pos] != '[' {
		p.pos = at
	}
	if p.pos < len(p.s) && p.s[p.pos] == '[' {
		if err := p.open(']'); err != nil {
			return path, err
		}
		if path.ValueExpression, err = p.or(); err != nil {
			return path, err
		}
		if err := p.close(); err != nil {
			return path, err
		}
		if p.pos < len(p.s) && p.s[p.pos] == '.' {
			p.pos++
			sub, err := p.attrName("a sub-attribute of " + attr.String() + " after the dot")
			if err != nil {
				return path, err
			}
			path.SubAttribute = &sub
		}
		if p.pos < len(p.s) {
			return path, p.fail("the end of the path, or . and a sub-attribute of " + attr.String())
		}
	}
	if p.pos < len(p.s) {
		return path, p.fail("the end of the path, or a filter in [ ]")
	}
	return path, nil
}

// filterReader is one filter being read.
type filterReader struct {
	what string // "filter" or "path", for errors
	s    string
	pos  int
	// closers are the brackets open where the reader is, innermost last:
	// they say what may end a list of conditions.
	closers     []byte
	comparisons int
	operators   int
}

// filterError is a filter or path that cannot be read: where and what
// was expected there.
type filterError struct {
	what     string
	at       int // a character position, from 1
	found    string
	expected string
}

func (e *filterError) Error() string {
	return fmt.Sprintf("the %s cannot be read at character %d (%s): expected %s", e.what, e.at, e.found, e.expected)
}

// fail reports that expected was not found at the reader's position.
func (p *filterReader) fail(expected string) error {
	found := "the end of the " + p.what
	if rest := p.s[p.pos:]; rest != "" {
		if end := nextBreak(rest); end < len(rest) {
			rest = rest[:end]
		}
		n := 0
		for i := range rest {
			if n++; n > 20 {
				rest = rest[:i] + "…"
				break
			}
		}
		found = strconv.Quote(rest)
	}
	return &filterError{what: p.what, at: utf8.RuneCountInString(p.s[:p.pos]) + 1, found: found, expected: expected}
}

// nextBreak is where the word at the start of s ends, for quoting it.
func nextBreak(s string) int {
	if s[0] == '"' {
		if i := strings.IndexByte(s[1:], '"'); i >= 0 {
			return i + 2
		}
		return len(s)
	}
	switch i := strings.IndexAny(s, " ()[]"); {
	case i < 0:
		return len(s)
	case i == 0:
		return 1
	default:
		return i
	}
}

// open enters a parenthesis or bracket; the depth is bounded.
func (p *filterReader) open(closer byte) error {
	if len(p.closers) >= directory.MaxFilterTerms {
		return directory.FilterTooLargeError()
	}
	p.closers = append(p.closers, closer)
	p.pos++
	p.spaces()
	return nil
}

// close leaves the innermost parenthesis or bracket.
func (p *filterReader) close() error {
	p.spaces()
	closer := p.closers[len(p.closers)-1]
	if p.pos >= len(p.s) || p.s[p.pos] != closer {
		return p.fail("and, or or " + string(closer))
	}
	p.closers = p.closers[:len(p.closers)-1]
	p.pos++
	return nil
}

// operator counts an and, or or not against the bound.
func (p *filterReader) operator() error {
	if p.operators++; p.operators > directory.MaxFilterTerms {
		return directory.FilterTooLargeError()
	}
	return nil
}

// spaces skips spaces and says how many there were.
func (p *filterReader) spaces() int {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
	return p.pos - start
}

// word returns the letters at the reader's position, without reading them.
func (p *filterReader) word() string {
	end := p.pos
	for end < len(p.s) && isAlpha(p.s[end]) {
		end++
	}
	return p.s[p.pos:end]
}

// keyword reads " and " or " or " (one or more spaces on each side) and
// reports whether it was there; otherwise it reads nothing.
func (p *filterReader) keyword(kw string) (bool, error) {
	start := p.pos
	if p.spaces() == 0 || !strings.EqualFold(p.word(), kw) {
		p.pos = start
		return false, nil
	}
	p.pos += len(kw)
	if p.pos == len(p.s) {
		return false, p.fail("a condition after " + kw)
	}
	if p.spaces() == 0 {
		return false, p.fail("a space after " + kw)
	}
	return true, p.operator()
}

// or reads conditions joined by or: and binds closer.
func (p *filterReader) or() (filter.Expression, error) {
	left, err := p.and()
	for err == nil {
		var more bool
		if more, err = p.keyword("or"); !more || err != nil {
			break
		}
		var right filter.Expression
		if right, err = p.and(); err == nil {
			left = &filter.LogicalExpression{Left: left, Right: right, Operator: filter.OR}
		}
	}
	return left, err
}

func (p *filterReader) and() (filter.Expression, error) {
	left, err := p.condition()
	for err == nil {
		var more bool
		if more, err = p.keyword("and"); !more || err != nil {
			break
		}
		var right filter.Expression
		if right, err = p.condition(); err == nil {
			left = &filter.LogicalExpression{Left: left, Right: right, Operator: filter.AND}
		}
	}
	return left, err
}

// condition reads one condition: a comparison, a parenthesis, not(...),
// or a value path (emails[type eq "work"]).
func (p *filterReader) condition() (filter.Expression, error) {
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		return p.parenthesis()
	}
	path, err := p.attrPath("a comparison, such as userName eq \"ada@example.com\", or not (...)")
	if err != nil {
		return nil, err
	}
	spaces := p.spaces()
	next := byte(0)
	if p.pos < len(p.s) {
		next = p.s[p.pos]
	}
	switch {
	case next == '(' && path.URIPrefix == nil && path.SubAttribute == nil && strings.EqualFold(path.AttributeName, "not"):
		if err := p.operator(); err != nil {
			return nil, err
		}
		inner, err := p.parenthesis()
		if err != nil {
			return nil, err
		}
		return &filter.NotExpression{Expression: inner}, nil
	case next == '[' && slices.Contains(p.closers, ']'):
		return nil, p.fail("an operator after " + path.String() + "; a filter in [ ] cannot hold another [ ]")
	case next == '[':
		return p.valuePath(path)
	case spaces == 0:
		return nil, p.fail("a space and an operator after " + path.String() + ": eq, ne, co, sw, ew, gt, ge, lt, le or pr")
	}
	return p.comparison(path)
}

// parenthesis reads ( conditions ).
func (p *filterReader) parenthesis() (filter.Expression, error) {
	if err := p.open(')'); err != nil {
		return nil, err
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	return e, p.close()
}

// valuePath reads [ conditions ] after an attribute with several values,
// and a comparison of a sub-attribute after it.
func (p *filterReader) valuePath(path filter.AttributePath) (filter.Expression, error) {
	if err := p.open(']'); err != nil {
		return nil, err
	}
	inner, err := p.or()
	if err == nil {
		err = p.close()
	}
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		sub, err := p.attrName("a sub-attribute of " + path.String() + " after the dot")
		if err != nil {
			return nil, err
		}
		if p.spaces() == 0 {
			return nil, p.fail("a space and an operator after " + sub + ": eq, ne, co, sw, ew, gt, ge, lt, le or pr")
		}
		cmp, err := p.comparison(filter.AttributePath{AttributeName: sub})
		if err != nil {
			return nil, err
		}
		inner = &filter.LogicalExpression{Left: inner, Right: cmp, Operator: filter.AND}
	}
	return &filter.ValuePath{AttributePath: path, ValueFilter: inner}, nil
}

var compareOps = map[string]filter.CompareOperator{
	"eq": filter.EQ, "ne": filter.NE, "co": filter.CO, "sw": filter.SW, "ew": filter.EW,
	"gt": filter.GT, "lt": filter.LT, "ge": filter.GE, "le": filter.LE, "pr": filter.PR,
}

// comparison reads the operator and value after an attribute path and the
// spaces after it.
func (p *filterReader) comparison(path filter.AttributePath) (filter.Expression, error) {
	w := p.word()
	op, ok := compareOps[strings.ToLower(w)]
	switch {
	case !ok && path.URIPrefix == nil && path.SubAttribute == nil && strings.EqualFold(path.AttributeName, "not"):
		return nil, p.fail(`( after not, as in not (userName eq "ada@example.com")`)
	case !ok:
		return nil, p.fail("an operator after " + path.String() + ": eq, ne, co, sw, ew, gt, ge, lt, le or pr")
	}
	if p.comparisons++; p.comparisons > directory.MaxFilterTerms {
		return nil, directory.FilterTooLargeError()
	}
	p.pos += len(w)
	e := &filter.AttributeExpression{AttributePath: path, Operator: op}
	if op == filter.PR {
		return e, nil
	}
	const values = "a string in quotes, a number, true, false or null"
	if p.spaces() == 0 {
		return nil, p.fail("a space and a value after " + string(op) + ": " + values)
	}
	v, problem := p.value()
	if problem != "" {
		return nil, p.fail(strings.ReplaceAll(problem, "{op}", string(op)))
	}
	e.CompareValue = v
	return e, nil
}

// value reads a JSON value of the filter grammar: a string (kept with its
// escapes), a number, true, false or null, with case ignored in the last
// three as the library ignores it. When there is none it reads nothing and
// says what it expected ({op} for the operator before it).
func (p *filterReader) value() (any, string) {
	const values = "a value after {op}: a string in quotes, a number, true, false or null"
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		return p.str()
	}
	if w := p.word(); w != "" {
		switch strings.ToLower(w) {
		case "true":
			p.pos += len(w)
			return true, ""
		case "false":
			p.pos += len(w)
			return false, ""
		case "null":
			p.pos += len(w)
			return nil, ""
		}
		return nil, values
	}
	n, ok := p.number()
	if !ok {
		return nil, values
	}
	return n, ""
}

// str reads a string: the characters between the quotes, escapes as sent
// (RFC 8259 §7; as in the library, no raw control characters).
func (p *filterReader) str() (any, string) {
	start := p.pos + 1
	for i := start; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case c == '"':
			p.pos = i + 1
			return p.s[start:i], ""
		case c < 0x20:
			return nil, `a string without control characters (write them as \u0009 and the like)`
		case c == '\\':
			if i+1 < len(p.s) && strings.IndexByte(`"\/bfnrt`, p.s[i+1]) >= 0 {
				i++
				continue
			}
			if i+6 <= len(p.s) && p.s[i+1] == 'u' && isHex(p.s[i+2:i+6]) {
				i += 5
				continue
			}
			return nil, `a string whose escapes are \" \\ \/ \b \f \n \r \t or \u and four hex digits`
		}
	}
	return nil, `a " to end the string that starts here`
}

func isHex(s string) bool {
	for i := range len(s) {
		if c := s[i] | 0x20; !('0' <= s[i] && s[i] <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// number reads a JSON number: an int when it has no fraction or exponent,
// else a float64, as the library reads it.
func (p *filterReader) number() (any, bool) {
	s, i := p.s, p.pos
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return nil, false
	}
	exact := true
	if i+1 < len(s) && s[i] == '.' && '0' <= s[i+1] && s[i+1] <= '9' {
		i++
		digits()
		exact = false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			i = j // not an exponent: left for the caller to refuse
		} else {
			exact = false
		}
	}
	f, err := strconv.ParseFloat(s[p.pos:i], 64)
	if err != nil {
		return nil, false // beyond float64
	}
	p.pos = i
	if exact {
		return int(f), true
	}
	return f, true
}

// attrPath reads [URI ":"] name ["." name] (RFC 7644 §3.10): the URI is
// every segment of letters, digits and dots that a colon ends.
func (p *filterReader) attrPath(expected string) (filter.AttributePath, error) {
	var path filter.AttributePath
	uriEnd := -1
	for i := p.pos; ; i++ {
		seg := i
		for i < len(p.s) && (isAlpha(p.s[i]) || '0' <= p.s[i] && p.s[i] <= '9' || p.s[i] == '.') {
			i++
		}
		if i == seg || i >= len(p.s) || p.s[i] != ':' {
			break
		}
		uriEnd = i
	}
	if uriEnd >= 0 {
		uri := p.s[p.pos:uriEnd]
		path.URIPrefix = &uri
		p.pos = uriEnd + 1
	}
	name, err := p.attrName(expected)
	if err != nil {
		return path, err
	}
	path.AttributeName = name
	if p.pos < len(p.s) && p.s[p.pos] == '.' {
		p.pos++
		sub, err := p.attrName("a sub-attribute of " + name + " after the dot")
		if err != nil {
			return path, err
		}
		path.SubAttribute = &sub
	}
	return path, nil
}

// attrName reads an attribute name: a letter, then letters, digits, - and
// _ ("$ref" too).
func (p *filterReader) attrName(expected string) (string, error) {
	i := p.pos
	if i < len(p.s) && p.s[i] == '$' {
		i++
	}
	if i >= len(p.s) || !isAlpha(p.s[i]) {
		return "", p.fail(expected)
	}
	for i < len(p.s) && (isAlpha(p.s[i]) || '0' <= p.s[i] && p.s[i] <= '9' || p.s[i] == '-' || p.s[i] == '_') {
		i++
	}
	name := p.s[p.pos:i]
	p.pos = i
	return name, nil
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
