package sso

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// xmlBounds are the shapes of XML admit lets reach crewjam/saml, etree and
// goxmldsig. Those parse the whole tree, and canonicalization walks the
// namespace context of every element: a document a hundred thousand
// levels deep cost them tens of seconds of CPU, posted by anyone to an
// ACS. check reads the document once as a stream, in time linear in its
// size, and stops at the first bound it crosses, before any of them see
// it.
type xmlBounds struct {
	// MaxBytes caps the document itself.
	MaxBytes int
	// MaxDepth caps element nesting.
	MaxDepth int
	// MaxElements caps the number of elements.
	MaxElements int
	// MaxAttributes caps the attributes (namespace declarations included)
	// of one element.
	MaxAttributes int
}

// The bounds below are far above what identity providers send; what they
// still let through costs crewjam time in proportion (about 20-70 µs an
// element on this project's 2-core test machines; see BenchmarkACSBounds
// and BenchmarkCheckXML), never the tens of seconds of the deep document:
//
//   - depth: a SAML response is about 10 levels deep (Response, Assertion,
//     Signature, SignedInfo, Reference, Transforms, Transform,
//     InclusiveNamespaces; EncryptedAssertion, EncryptedData, KeyInfo,
//     EncryptedKey, CipherData, CipherValue), metadata about 12 (an
//     EntitiesDescriptor around an EntityDescriptor, an Extensions block
//     with mdui and mdattr under a role descriptor); 64 leaves room for an
//     AttributeValue holding XML of its own.
//   - elements of a response: every group of a person is an
//     AttributeValue. ADFS and Okta send all of them (Entra ID stops at 150
//     and sends a link instead), but a Windows access token holds at most
//     1,024 security identifiers, so Active Directory people are in about a
//     thousand groups at most; 5,000 elements leave room for that and for
//     Okta's own groups, and hold an anonymous post to a few hundred
//     milliseconds of crewjam's time.
//   - elements of metadata: an administrator gives it, not anyone; 20,000
//     also covers a small federation's aggregate that fits in
//     maxMetadataBytes.
//   - attributes: the busiest elements, a Response or an EntityDescriptor
//     with its namespace declarations, carry about a dozen; Okta puts three
//     on every AttributeValue.
var (
	responseBounds = xmlBounds{MaxBytes: maxResponseBytes, MaxDepth: 64, MaxElements: 5_000, MaxAttributes: 32}
	metadataBounds = xmlBounds{MaxBytes: maxMetadataBytes, MaxDepth: 64, MaxElements: 20_000, MaxAttributes: 32}
)

// errXMLBounds marks a document check refused, whatever bound it crossed.
var errXMLBounds = errors.New("the XML is outside admit's bounds")

// check reads doc as a stream and refuses it when it is larger, deeper or
// wider than b allows, or when it holds what no SAML message or metadata
// needs and what XML parsers have been attacked through: a document type
// declaration (entities, "billion laughs"; crewjam and etree would not
// expand them, but nothing legitimate sends one) or a processing
// instruction other than the XML declaration. It also refuses XML that is
// not well-formed, so that the error names the first problem. Comments are
// allowed: metadata files carry them.
func (b xmlBounds) check(doc []byte) error {
	if len(doc) > b.MaxBytes {
		return fmt.Errorf("%w: larger than %d bytes", errXMLBounds, b.MaxBytes)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, elements := 0, 0
	// prolog: nothing but white space (or a byte order mark, which ADFS
	// and Windows editors write) read yet, where an XML declaration may be.
	prolog := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			switch {
			case depth > b.MaxDepth:
				return fmt.Errorf("%w: elements nested more than %d deep", errXMLBounds, b.MaxDepth)
			case elements > b.MaxElements:
				return fmt.Errorf("%w: more than %d elements", errXMLBounds, b.MaxElements)
			case len(t.Attr) > b.MaxAttributes:
				return fmt.Errorf("%w: an element <%s> with more than %d attributes", errXMLBounds, t.Name.Local, b.MaxAttributes)
			}
		case xml.EndElement:
			depth-- // Token refuses an end tag that matches no start tag

		case xml.Directive:
			return fmt.Errorf("%w: a document type or entity declaration (<!%.20s…>)", errXMLBounds, t)
		case xml.ProcInst:
			if t.Target != "xml" || !prolog {
				return fmt.Errorf("%w: a processing instruction <?%.20s?>", errXMLBounds, t.Target)
			}
		}
		if c, ok := tok.(xml.CharData); !ok || len(bytes.Trim(c, " \t\r\n\ufeff")) > 0 {
			prolog = false
		}
	}
	if depth != 0 {
		return errors.New("not well-formed XML: the document ends inside an element")
	}
	return nil
}
