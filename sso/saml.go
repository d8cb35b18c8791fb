package sso

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

const bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

// NameIDFormat is the NameID format admit asks for in its AuthnRequests
// and advertises in its metadata; the two must agree, or an IdP that
// follows the metadata (Shibboleth, ADFS on import) and one that follows
// the request would send different things. admit knows people by email,
// so it asks for the email: Okta, Entra ID, ADFS and Google Workspace all
// put the address in the NameID when asked, which matters where the IdP
// sends no attributes at all (Google's default app, Entra's default claim
// set). "unspecified" would let the IdP choose, and some choose an opaque
// transient id. The one IdP that refuses the request rather than ignore
// it, ADFS without a claim rule issuing an Email NameID, answers
// InvalidNameIDPolicy, which the login log shows as the reason.
const NameIDFormat = saml.EmailAddressNameIDFormat

// serviceProvider builds crewjam's SP for one connection and one request.
// parsed receives the Response as crewjam read it (for InResponseTo);
// crewjam's own InResponseTo handling is switched off (AllowIDPInitiated)
// because it skips every check when IdP-initiated login is on: admit
// checks it itself, after the signature (see checkAssertion).
func (h *Handler) serviceProvider(a directory.Account, c directory.Connection, keys certs.Set, parsed *saml.Response) (*saml.ServiceProvider, error) {
	md, err := ParseMetadata([]byte(c.Metadata))
	if err != nil {
		return nil, fmt.Errorf("connection %s metadata: %w", c.Name, err)
	}
	u := SAMLURLs(h.base, a.Slug, c.Name)
	acs, _ := url.Parse(u.ACS)
	meta, _ := url.Parse(u.Metadata)
	sp := &saml.ServiceProvider{
		EntityID:          u.EntityID,
		Key:               keys.Active.Key,
		Certificate:       keys.Active.Certificate,
		MetadataURL:       *meta,
		AcsURL:            *acs,
		IDPMetadata:       md,
		AuthnNameIDFormat: NameIDFormat,
		SignatureMethod:   dsig.RSASHA256SignatureMethod,
		AllowIDPInitiated: true,
		// An assertion must be addressed to this connection: crewjam
		// accepts one with no AudienceRestriction at all.
		ValidateAudienceRestriction: func(as *saml.Assertion) error {
			if len(as.Conditions.AudienceRestrictions) == 0 {
				return errors.New("the assertion has no AudienceRestriction")
			}
			for _, ar := range as.Conditions.AudienceRestrictions {
				if ar.Audience.Value != u.EntityID {
					return fmt.Errorf("the assertion is for audience %q, not %q", ar.Audience.Value, u.EntityID)
				}
			}
			return nil
		},
		ValidateRequestID: func(resp saml.Response, _ []string) error {
			*parsed = resp
			return nil
		},
	}
	return sp, nil
}

// startSAML sends the browser to the identity provider with a signed
// AuthnRequest, remembering the request in this browser: by redirect
// (HTTP-Redirect binding), or, for a provider that only takes HTTP-POST, on
// a page whose form posts the signed request there.
func (h *Handler) startSAML(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, returnTo, test string) error {
	ctx := r.Context()
	keys, err := h.certs.Current(ctx)
	if err != nil {
		return err
	}
	sp, err := h.serviceProvider(a, c, keys, new(saml.Response))
	if err != nil {
		h.fail(w, r, a, &c, refuse(http.StatusBadGateway, "Your organisation's identity provider is not set up correctly.",
			"admit cannot read the identity provider's metadata of connection "+c.Name, err), attempt{})
		return nil
	}
	location, binding := ssoEndpoint(sp.IDPMetadata)
	req, err := sp.MakeAuthenticationRequest(location, binding, saml.HTTPPostBinding)
	if err != nil {
		return fmt.Errorf("make AuthnRequest: %w", err)
	}
	now := h.now()
	if err := h.pending.start(w, r, pending{ID: req.ID, Connection: c.ID, ReturnTo: returnTo, Test: test, Expires: now.Add(directory.SSORequestLifetime)}, now); err != nil {
		return fmt.Errorf("remember AuthnRequest: %w", err)
	}
	if binding == saml.HTTPPostBinding {
		doc := etree.NewDocument()
		doc.SetRoot(req.Element()) // signed by MakeAuthenticationRequest
		xmlReq, err := doc.WriteToBytes()
		if err != nil {
			return fmt.Errorf("encode AuthnRequest: %w", err)
		}
		h.pages.Render(w, r, http.StatusOK, h.tmpl["post"], web.Page{
			Title: "Signing in", Branding: branding(a), FormTargets: []string{location},
			Data: map[string]string{"Action": location, "SAMLRequest": base64.StdEncoding.EncodeToString(xmlReq)},
		})
		return nil
	}
	to, err := req.Redirect("", sp)
	if err != nil {
		return fmt.Errorf("sign AuthnRequest: %w", err)
	}
	http.Redirect(w, r, to.String(), http.StatusFound)
	return nil
}

// handleMetadata serves the SP metadata of a connection: its entity id,
// ACS, single logout endpoint, and every published certificate (the next one before it is used,
// the previous one until it is retired).
func (h *Handler) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, c, err := h.connectionAt(ctx, r, directory.ProtocolSAML)
	if err != nil {
		return err
	}
	keys, err := h.certs.Current(ctx)
	if err != nil {
		return err
	}
	u := SAMLURLs(h.base, a.Slug, c.Name)
	acs, _ := url.Parse(u.ACS)
	meta, _ := url.Parse(u.Metadata)
	slo, _ := url.Parse(u.SLO)
	sp := saml.ServiceProvider{
		EntityID: u.EntityID, Key: keys.Active.Key, Certificate: keys.Active.Certificate, MetadataURL: *meta, AcsURL: *acs,
		AuthnNameIDFormat: NameIDFormat, SignatureMethod: dsig.RSASHA256SignatureMethod,
		// The single logout endpoint takes both front-channel bindings
		// (handleSLO); SOAP's back channel it does not serve.
		SloURL: *slo, LogoutBindings: []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding},
	}
	ed := sp.Metadata()
	d := &ed.SPSSODescriptors[0]
	// crewjam publishes one certificate, and offers the artifact binding
	// admit does not serve: publish all, and the POST binding only.
	d.KeyDescriptors = nil
	for _, kp := range keys.Published {
		info := saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(kp.Certificate.Raw)}}}}
		d.KeyDescriptors = append(d.KeyDescriptors,
			saml.KeyDescriptor{Use: "signing", KeyInfo: info},
			saml.KeyDescriptor{Use: "encryption", KeyInfo: info, EncryptionMethods: []saml.EncryptionMethod{
				{Algorithm: "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
				{Algorithm: "http://www.w3.org/2009/xmlenc11#aes256-gcm"},
				{Algorithm: "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"},
			}})
	}
	d.AssertionConsumerServices = d.AssertionConsumerServices[:1]
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(xml.Header))
	_, err = w.Write(out)
	return err
}

// maxResponseBytes bounds a decoded SAMLResponse: a large group list is a
// few hundred kilobytes; the server's body limit applies first anyway.
const maxResponseBytes = 768 << 10

// handleACS takes the identity provider's answer.
func (h *Handler) handleACS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, c, err := h.connectionAt(ctx, r, directory.ProtocolSAML)
	if err != nil {
		status := http.StatusInternalServerError
		if directory.KindOf(err) == directory.NotFound {
			status = http.StatusNotFound
		}
		h.fail(w, r, a, nil, refuse(status, "This sign-in link is not set up in admit.", "the ACS URL names no SAML connection: check the ACS URL configured at the identity provider", err), attempt{})
		return
	}
	if !c.Ready() {
		// Nothing is read of the post: there is no key to verify it with.
		// It goes to the login log, unverified, for the admin who tests
		// the identity provider before giving admit its metadata.
		h.fail(w, r, a, &c, refuse(http.StatusConflict, "Single sign-on for this organisation is not finished yet, so admit cannot accept this sign-in.",
			"connection "+c.Name+" is waiting for the identity provider's metadata: give it with admit sso set-metadata",
			errors.New("the connection is waiting for its identity provider's metadata")), attempt{})
		return
	}
	var at attempt
	if rf := h.acs(w, r, a, c, &at); rf != nil {
		h.fail(w, r, a, &c, rf, at)
	}
}

func (h *Handler) acs(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, at *attempt) *refusal {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return refuse(http.StatusBadRequest, "The sign-in response could not be read.", "", err)
	}
	raw := r.PostForm.Get("SAMLResponse")
	if raw == "" {
		return refuse(http.StatusBadRequest, "The sign-in response is missing.", "the identity provider posted no SAMLResponse to the ACS URL", errors.New("no SAMLResponse"))
	}
	xmlResp, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return refuse(http.StatusBadRequest, "The sign-in response could not be read.", "", fmt.Errorf("SAMLResponse is not base64: %v", err))
	}
	// Nothing of the response reaches crewjam before it passed the bounds:
	// its parsers' cost grows faster than the document (see xmlBounds).
	if err := responseBounds.check(xmlResp); err != nil {
		return refuse(http.StatusBadRequest, "The sign-in response could not be read.", "",
			fmt.Errorf("SAMLResponse refused before parsing: %w", err))
	}
	keys, err := h.certs.Current(ctx)
	if err != nil {
		return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
	}
	as, resp, err := h.parseResponse(a, c, keys, xmlResp)
	if err != nil {
		return refuse(http.StatusForbidden, "Your organisation's identity provider sent a sign-in response that admit cannot accept.",
			"admit refused the SAML response of connection "+c.Name+"; the reference identifies the reason in its login log", err)
	}
	// From here on the answer is the provider's own: its refusals go to
	// the verified part of the login log. The assertion is used up before
	// anything else is decided, so that whatever comes of it, a copy
	// posted again is an "already used" refusal, kept with the unverified
	// junk: one signed response, however often posted, enters the verified
	// part once.
	at.verified = true
	if err := h.dir.AcceptAssertionOnce(ctx, c, as.ID, assertionEnd(as, h.now())); err != nil {
		switch directory.KindOf(err) {
		case directory.Conflict:
			at.verified = false
			return refuse(http.StatusForbidden, "This sign-in response was already used. Please start again from your company's link.", "", err)
		case directory.Invalid:
			return refuse(http.StatusForbidden, "Your organisation's identity provider sent a sign-in response that admit cannot accept.",
				"admit refused the SAML response of connection "+c.Name+"; the reference identifies the reason in its login log", err)
		}
		return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
	}
	inResponseTo, err := checkAssertion(as, resp, c, h.now())
	if err != nil {
		return refuse(http.StatusForbidden, "Your organisation's identity provider sent a sign-in response that admit cannot accept.",
			"admit refused the SAML response of connection "+c.Name+"; the reference identifies the reason in its login log", err)
	}
	at.Subject = as.Subject.NameID.Value
	at.Claims = claimsOf(as)
	returnTo := "/me"
	if inResponseTo != "" {
		req, err := h.pending.take(w, r, c, inResponseTo, false, h.now())
		if err != nil {
			return refuse(http.StatusForbidden, "This sign-in was not started in this browser, or took too long. Please start again from your company's link.", "",
				fmt.Errorf("InResponseTo %q %w", inResponseTo, err))
		}
		at.Test, at.testReturn = req.Test != "", req.ReturnTo
		if err := h.dir.FinishSSO(ctx, c, req.ID, req.Expires); directory.KindOf(err) == directory.Conflict {
			return refuse(http.StatusForbidden, "This sign-in was already used. Please start again from your company's link.", "",
				fmt.Errorf("InResponseTo %q: %w", inResponseTo, err))
		} else if err != nil {
			return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
		}
		returnTo = req.ReturnTo
	} else {
		at.IDPInit = true
		if !c.Settings.AllowIDPInitiated {
			return refuse(http.StatusForbidden, "Please start signing in from your company's sign-in link.",
				"connection "+c.Name+" does not allow IdP-initiated login: enable it (--allow-idp-initiated) or start from "+SAMLURLs(h.base, a.Slug, c.Name).IntranetURL,
				errors.New("unsolicited response (no InResponseTo) and IdP-initiated login is off"))
		}
		// An IdP-initiated RelayState is the destination at most, and only
		// on this site or an allowed origin.
		returnTo = h.returnTo(c, r.PostForm.Get("RelayState"))
	}
	id, err := directory.MapClaims(as.Subject.NameID.Value, at.Claims, c.Settings.Mapping)
	// Only a persistent NameID is never given to another person (SAML
	// core 8.3.7). A transient one is new at every login, an email address
	// one renames with the person, and an unspecified one (or a Windows
	// or Kerberos name) is often a username that the company hands to its
	// next holder, whose login would then take over the former's person.
	id.Lasting = as.Subject.NameID.Format == string(saml.PersistentNameIDFormat)
	if err != nil {
		at.Identity = &id
		return refuse(http.StatusForbidden, "Your organisation's identity provider did not send your email address.",
			"the SAML response of connection "+c.Name+" carries no usable email: "+directory.Message(err), err)
	}
	// An id the provider assigns for good (Entra ID's object id, or the
	// attribute the connection names) links the person better than any
	// NameID: an email-format one renames with them.
	if id.Attribute, id.AttributeSubject, err = directory.SubjectAttribute(at.Claims, c.Settings.Mapping); err != nil {
		at.Identity = &id
		return refuse(http.StatusForbidden, "Your organisation's identity provider did not send what identifies you for good, so admit cannot tell who you are. Ask your administrator to check the single sign-on setup.",
			"the SAML response of connection "+c.Name+" has no single subject attribute: "+directory.Message(err)+" (--subject-attribute names it; \"nameid\" links by a persistent NameID instead)", err)
	}
	if id.Attribute != "" {
		id.From["subject"] = id.Attribute
	}
	if at.Test {
		return h.trySignIn(w, r, a, c, id, *at)
	}
	return h.signIn(w, r, a, c, directory.BySAML(c, samlSubject(as)), id, *at, returnTo)
}

// parseResponse verifies and decrypts the response with crewjam. An
// encrypted assertion is tried with each published key, the active one
// first: a provider may still encrypt to the previous certificate, or
// already to the next one.
func (h *Handler) parseResponse(a directory.Account, c directory.Connection, keys certs.Set, xmlResp []byte) (as *saml.Assertion, resp saml.Response, err error) {
	// crewjam dereferences optional elements of a verified assertion
	// (Subject, Conditions, SubjectConfirmationData) without checking
	// them: a signed but malformed assertion must be a refusal, not a crash.
	defer func() {
		if p := recover(); p != nil {
			as, err = nil, fmt.Errorf("malformed assertion: %v", p)
		}
	}()
	if n, err := countAssertions(xmlResp); err != nil {
		return nil, resp, err
	} else if n != 1 {
		// Several assertions in one response is how signature-wrapping
		// attacks smuggle a forged one beside a signed one; no identity
		// provider sends more than one for a login.
		return nil, resp, fmt.Errorf("the response must hold exactly one assertion, not %d", n)
	}
	acs := SAMLURLs(h.base, a.Slug, c.Name).ACS
	acsURL, _ := url.Parse(acs)
	encrypted := bytes.Contains(xmlResp, []byte("EncryptedAssertion"))
	for i, key := range keys.Decrypting() {
		sp, err := h.serviceProvider(a, c, keys, &resp)
		if err != nil {
			return nil, resp, err
		}
		sp.Key = key
		as, err = sp.ParseXMLResponse(xmlResp, nil, *acsURL)
		if err == nil {
			return as, resp, nil
		}
		if !encrypted || i == len(keys.Decrypting())-1 || !strings.Contains(reasonOf(err), "decrypt") {
			return nil, resp, errors.New(reasonOf(err))
		}
	}
	return nil, resp, errors.New("no key to decrypt with")
}

const assertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"

// countAssertions counts the Assertion and EncryptedAssertion elements
// directly inside the response's root element.
func countAssertions(doc []byte) (int, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, n := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("the response is not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 1 && t.Name.Space == assertionNS && (t.Name.Local == "Assertion" || t.Name.Local == "EncryptedAssertion") {
				n++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// reasonOf unwraps crewjam's InvalidResponseError, whose Error() hides the
// reason (rightly, for a page; the login log needs it).
func reasonOf(err error) string {
	var ir *saml.InvalidResponseError
	if errors.As(err, &ir) && ir.PrivateErr != nil {
		return ir.PrivateErr.Error()
	}
	return err.Error()
}

// checkAssertion adds what crewjam does not check, after it verified the
// signature: a bearer confirmation, validity with the connection's clock
// skew, and one InResponseTo that the response and the assertion agree on.
// It returns that InResponseTo ("" for an unsolicited response).
func checkAssertion(as *saml.Assertion, resp saml.Response, c directory.Connection, now time.Time) (string, error) {
	if as.Subject == nil || as.Subject.NameID == nil || strings.TrimSpace(as.Subject.NameID.Value) == "" {
		return "", errors.New("the assertion has no Subject NameID")
	}
	if as.Conditions == nil {
		return "", errors.New("the assertion has no Conditions")
	}
	skew := c.ClockSkew()
	if !as.Conditions.NotBefore.IsZero() && as.Conditions.NotBefore.Add(-skew).After(now) {
		return "", fmt.Errorf("the assertion is not valid before %s", as.Conditions.NotBefore.Format(time.RFC3339))
	}
	if as.Conditions.NotOnOrAfter.IsZero() || !now.Before(as.Conditions.NotOnOrAfter.Add(skew)) {
		return "", fmt.Errorf("the assertion expired at %s", as.Conditions.NotOnOrAfter.Format(time.RFC3339))
	}
	inResponseTo := resp.InResponseTo
	bearerFound := false
	for _, sc := range as.Subject.SubjectConfirmations {
		if sc.Method != bearer || sc.SubjectConfirmationData == nil {
			continue
		}
		d := sc.SubjectConfirmationData
		if d.NotOnOrAfter.IsZero() || !now.Before(d.NotOnOrAfter.Add(skew)) {
			return "", fmt.Errorf("the bearer confirmation expired at %s", d.NotOnOrAfter.Format(time.RFC3339))
		}
		if !d.NotBefore.IsZero() && d.NotBefore.Add(-skew).After(now) {
			return "", fmt.Errorf("the bearer confirmation is not valid before %s", d.NotBefore.Format(time.RFC3339))
		}
		switch {
		case d.InResponseTo == "":
		case inResponseTo == "":
			inResponseTo = d.InResponseTo
		case d.InResponseTo != inResponseTo:
			return "", fmt.Errorf("the response answers %q but the assertion answers %q", inResponseTo, d.InResponseTo)
		}
		bearerFound = true
	}
	if !bearerFound {
		return "", errors.New("the assertion has no bearer SubjectConfirmation with SubjectConfirmationData")
	}
	return inResponseTo, nil
}

// samlSubject is what the assertion said of the person's session at the
// provider, which its LogoutRequest will name (saml-core 3.7.3.2): the
// NameID as sent, and the SessionIndex of its first AuthnStatement (a
// login's assertion has one).
func samlSubject(as *saml.Assertion) directory.SAMLSubject {
	n := as.Subject.NameID
	sub := directory.SAMLSubject{NameID: n.Value, Format: n.Format, NameQualifier: n.NameQualifier, SPNameQualifier: n.SPNameQualifier}
	for _, st := range as.AuthnStatements {
		if st.SessionIndex != "" {
			sub.SessionIndex = st.SessionIndex
			break
		}
	}
	return sub
}

// assertionEnd is when the assertion can no longer be used: how long its
// id must be remembered. It is read before checkAssertion, so it takes
// what is there: at least now.
func assertionEnd(as *saml.Assertion, now time.Time) time.Time {
	end := now
	if as.Conditions != nil && as.Conditions.NotOnOrAfter.After(end) {
		end = as.Conditions.NotOnOrAfter
	}
	if as.Subject == nil {
		return end
	}
	for _, sc := range as.Subject.SubjectConfirmations {
		if sc.SubjectConfirmationData != nil && sc.SubjectConfirmationData.NotOnOrAfter.After(end) {
			end = sc.SubjectConfirmationData.NotOnOrAfter
		}
	}
	return end
}

// claimsOf gathers the assertion's attributes under both their Name and
// their FriendlyName.
func claimsOf(as *saml.Assertion) directory.Claims {
	claims := directory.Claims{}
	for _, st := range as.AttributeStatements {
		for _, attr := range st.Attributes {
			var values []string
			for _, v := range attr.Values {
				values = append(values, v.Value)
			}
			claims.Add(attr.Name, values...)
			if attr.FriendlyName != "" && attr.FriendlyName != attr.Name {
				claims.Add(attr.FriendlyName, values...)
			}
		}
	}
	return claims
}
