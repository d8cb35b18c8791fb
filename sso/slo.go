package sso

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	xrv "github.com/mattermost/xml-roundtrip-validator"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// SAML single logout (saml-profiles 4.4) at /sso/{account}/saml/{connection}/slo,
// with the front-channel bindings: HTTP-Redirect (GET) and HTTP-POST.
//
// The identity provider's LogoutRequest ends the sessions its sign-ins
// opened for the person (directory.EndSAMLSessions); admit answers with a
// signed LogoutResponse. Such a request is believed only when it is signed
// by one of the connection's signing certificates (anyone could otherwise
// sign anyone out), issued by the connection's provider, addressed to this
// endpoint, fresh, and not seen before.
//
// A person who signed in through a SAML connection and signs out of admit
// is sent on to the provider with a signed LogoutRequest (ContinueLogout),
// remembered in their browser as a sign-in is (pending.go); the provider's
// LogoutResponse lands here and is shown as confirmed, or not, on admit's
// signed-out page. Admit's own session has ended before the person left.

const (
	// maxLogoutBytes bounds a decoded (and inflated) logout message: a
	// LogoutRequest with its NameID, SessionIndexes and signature is a few
	// kilobytes.
	maxLogoutBytes = 64 << 10
	// logoutMaxAge is how old a logout message's IssueInstant may be,
	// beyond the connection's clock skew: a provider makes each as it
	// sends the browser on, so an older one was kept, not sent.
	logoutMaxAge = 5 * time.Minute
	// maxRelayState bounds the RelayState echoed back to the provider.
	// saml-bindings 3.4.3 allows 80 bytes; some providers send more.
	maxRelayState = 1024
	protocolNS    = "urn:oasis:names:tc:SAML:2.0:protocol"
	entityFormat  = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
)

// logoutBounds are xmlBounds for logout messages: a LogoutRequest holds a
// few dozen elements.
var logoutBounds = xmlBounds{MaxBytes: maxLogoutBytes, MaxDepth: 32, MaxElements: 500, MaxAttributes: 32}

// sloMessage is a logout message as it arrived, decoded but not verified.
type sloMessage struct {
	binding    string // saml.HTTPRedirectBinding or saml.HTTPPostBinding
	request    bool   // a LogoutRequest (SAMLRequest), else a LogoutResponse
	doc        []byte
	relayState string
	// With HTTP-Redirect, the signature is over the query itself
	// (saml-bindings 3.4.4.1): the octets signed, the algorithm, the
	// signature.
	signed    []byte
	sigAlg    string
	signature []byte
}

var errNoLogoutMessage = errors.New("neither SAMLRequest nor SAMLResponse was sent")

// readSLO decodes the message of a request to the single logout endpoint.
// Whatever it returns says, as far as it got, whether a request or a
// response arrived.
func readSLO(r *http.Request) (sloMessage, error) {
	if r.Method == http.MethodGet {
		return readRedirect(r.URL.RawQuery)
	}
	return readPost(r)
}

// readRedirect reads the HTTP-Redirect binding's query (saml-bindings
// 3.4.4): the message DEFLATE-compressed and base64-encoded, and the
// signature over the parameters exactly as they were encoded in the URL.
func readRedirect(rawQuery string) (sloMessage, error) {
	m := sloMessage{binding: saml.HTTPRedirectBinding}
	raw := map[string]string{}
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return m, fmt.Errorf("the query is not URL-encoded: %v", err)
		}
		switch key {
		case "SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature":
			if _, twice := raw[key]; twice {
				return m, fmt.Errorf("%s appears twice in the query", key)
			}
			raw[key] = v
		}
	}
	param := "SAMLRequest"
	_, m.request = raw["SAMLRequest"]
	if _, resp := raw["SAMLResponse"]; resp {
		if m.request {
			return m, errors.New("the query holds both a SAMLRequest and a SAMLResponse")
		}
		param = "SAMLResponse"
	} else if !m.request {
		return m, errNoLogoutMessage
	}
	compressed, err := queryBase64(raw[param])
	if err != nil {
		return m, fmt.Errorf("%s: %w", param, err)
	}
	if m.doc, err = inflate(compressed); err != nil {
		return m, fmt.Errorf("%s: %w", param, err)
	}
	signed := param + "=" + raw[param]
	if rs, ok := raw["RelayState"]; ok {
		if m.relayState, err = url.QueryUnescape(rs); err != nil {
			return m, fmt.Errorf("RelayState is not URL-encoded: %v", err)
		}
		signed += "&RelayState=" + rs
	}
	if alg, ok := raw["SigAlg"]; ok {
		if m.sigAlg, err = url.QueryUnescape(alg); err != nil {
			return m, fmt.Errorf("SigAlg is not URL-encoded: %v", err)
		}
		signed += "&SigAlg=" + alg
	}
	m.signed = []byte(signed)
	if sig, ok := raw["Signature"]; ok {
		if m.signature, err = queryBase64(sig); err != nil {
			return m, fmt.Errorf("the query's Signature: %w", err)
		}
	}
	return m, nil
}

// queryBase64 decodes a base64 query value. A "+" left unencoded by the
// sender reads as a space; base64 has no spaces, so it is a "+" again.
func queryBase64(v string) ([]byte, error) {
	s, err := url.QueryUnescape(v)
	if err != nil {
		return nil, fmt.Errorf("not URL-encoded: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s, " ", "+"))
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	return b, nil
}

// inflate decompresses a redirect-binding message, at most maxLogoutBytes
// of it: a few hundred bytes of DEFLATE could otherwise unpack into
// gigabytes.
func inflate(compressed []byte) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(compressed)), maxLogoutBytes+1))
	if err != nil {
		return nil, fmt.Errorf("not DEFLATE-compressed: %v", err)
	}
	if len(out) > maxLogoutBytes {
		return nil, fmt.Errorf("larger than %d bytes once inflated", maxLogoutBytes)
	}
	return out, nil
}

// readPost reads the HTTP-POST binding's form (saml-bindings 3.5.4): the
// message base64-encoded, its signature inside it.
func readPost(r *http.Request) (sloMessage, error) {
	m := sloMessage{binding: saml.HTTPPostBinding}
	if err := r.ParseForm(); err != nil {
		return m, fmt.Errorf("the form could not be read: %v", err)
	}
	for _, k := range []string{"SAMLRequest", "SAMLResponse", "RelayState"} {
		if len(r.PostForm[k]) > 1 {
			return m, fmt.Errorf("%s appears twice in the form", k)
		}
	}
	param := "SAMLRequest"
	_, m.request = r.PostForm["SAMLRequest"]
	if _, resp := r.PostForm["SAMLResponse"]; resp {
		if m.request {
			return m, errors.New("the form holds both a SAMLRequest and a SAMLResponse")
		}
		param = "SAMLResponse"
	} else if !m.request {
		return m, errNoLogoutMessage
	}
	m.relayState = r.PostForm.Get("RelayState")
	doc, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(r.PostForm.Get(param)), ""))
	if err != nil {
		return m, fmt.Errorf("%s is not base64: %v", param, err)
	}
	if len(doc) > maxLogoutBytes {
		return m, fmt.Errorf("%s is larger than %d bytes", param, maxLogoutBytes)
	}
	m.doc = doc
	return m, nil
}

// queryAlgorithms are the signature algorithms a redirect-binding
// signature may use: RSA with SHA-2, what identity providers sign with.
// SHA-1 is refused, as crypto/x509 refuses it.
var queryAlgorithms = map[string]x509.SignatureAlgorithm{
	dsig.RSASHA256SignatureMethod: x509.SHA256WithRSA,
	dsig.RSASHA384SignatureMethod: x509.SHA384WithRSA,
	dsig.RSASHA512SignatureMethod: x509.SHA512WithRSA,
}

// verify checks the message and its signature against the provider's
// signing certificates, and returns its root element as verified, from
// which alone the message is read. With HTTP-Redirect the signature is the
// query's (saml-bindings 3.4.4.1; a signature inside the XML, which the
// binding says to remove, is ignored); with HTTP-POST, the enveloped XML
// signature of the root element (3.5.4), verified by goxmldsig as crewjam
// does an assertion's. An unsigned message is refused either way.
func (m sloMessage) verify(signers []*x509.Certificate, now time.Time) (*etree.Element, error) {
	// Nothing reaches etree or goxmldsig before it passed the bounds
	// (xmlBounds), nor XML that does not survive encoding/xml's round
	// trip, where what is verified and what is read could differ.
	if err := logoutBounds.check(m.doc); err != nil {
		return nil, fmt.Errorf("the message was refused before parsing: %w", err)
	}
	if err := xrv.Validate(bytes.NewReader(m.doc)); err != nil {
		return nil, fmt.Errorf("the message is not XML admit reads: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(m.doc); err != nil {
		return nil, fmt.Errorf("the message is not XML: %v", err)
	}
	root := doc.Root()
	want := "LogoutResponse"
	if m.request {
		want = "LogoutRequest"
	}
	if root == nil || root.Tag != want || root.NamespaceURI() != protocolNS {
		return nil, fmt.Errorf("the message is not a SAML %s", want)
	}
	if m.binding == saml.HTTPRedirectBinding {
		if m.sigAlg == "" || len(m.signature) == 0 {
			return nil, errors.New("the message is not signed: the query has no Signature and SigAlg (the identity provider must sign its logout messages)")
		}
		alg, ok := queryAlgorithms[m.sigAlg]
		if !ok {
			return nil, fmt.Errorf("the signature algorithm %q is not accepted (RSA with SHA-256, -384 or -512 is)", m.sigAlg)
		}
		for _, c := range signers {
			if usable(c, now) && c.CheckSignature(alg, m.signed, m.signature) == nil {
				return root, nil
			}
		}
		return nil, errors.New("the signature was not made with any of the identity provider's signing certificates")
	}
	if root.FindElement("./Signature") == nil {
		return nil, errors.New("the message is not signed: it holds no Signature (the identity provider must sign its logout messages)")
	}
	// goxmldsig without KeyInfo takes the only trusted certificate; with
	// several (a rollover) it would refuse, so each is tried alone. A
	// KeyInfo without a certificate (RSAKeyValue) is dropped, as crewjam
	// does: the metadata says which keys count.
	if root.FindElement("./Signature/KeyInfo/X509Data/X509Certificate") == nil {
		if sig := root.FindElement("./Signature"); sig != nil {
			if ki := sig.FindElement("KeyInfo"); ki != nil {
				sig.RemoveChild(ki)
			}
		}
	}
	nsCtx, err := etreeutils.NSBuildParentContext(root)
	if err == nil {
		nsCtx, err = nsCtx.SubContext(root)
	}
	var detached *etree.Element
	if err == nil {
		detached, err = etreeutils.NSDetatch(nsCtx, root)
	}
	if err != nil {
		return nil, fmt.Errorf("the message's namespaces cannot be read: %v", err)
	}
	last := errors.New("the identity provider has no signing certificate")
	for _, c := range signers {
		v := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		v.IdAttribute = "ID"
		v.Clock = dsig.NewFakeClockAt(now)
		verified, err := v.Validate(detached)
		if err == nil {
			return verified, nil
		}
		last = err
	}
	return nil, fmt.Errorf("the signature could not be verified: %v", last)
}

// usable says whether a certificate is valid at now, as goxmldsig requires
// of the certificates of XML signatures.
func usable(c *x509.Certificate, now time.Time) bool {
	return !now.Before(c.NotBefore) && !now.After(c.NotAfter)
}

// decode reads a verified element into v (a crewjam type).
func decode(el *etree.Element, v any) error {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	b, err := doc.WriteToBytes()
	if err != nil {
		return err
	}
	return xml.Unmarshal(b, v)
}

// logoutRequest is what admit reads of a verified LogoutRequest.
type logoutRequest struct {
	saml.LogoutRequest
	// SessionIndexes are all of its SessionIndex elements: crewjam's type
	// keeps one, and a request may name several (saml-core 3.7.1).
	SessionIndexes []string
}

// readLogoutRequest reads a verified LogoutRequest, which must name the
// person by a NameID: an EncryptedID or BaseID admit cannot match.
func readLogoutRequest(el *etree.Element) (logoutRequest, error) {
	var req logoutRequest
	if err := decode(el, &req.LogoutRequest); err != nil {
		return req, fmt.Errorf("the LogoutRequest cannot be read: %v", err)
	}
	for _, child := range el.ChildElements() {
		switch {
		case child.Tag == "SessionIndex" && child.NamespaceURI() == protocolNS:
			req.SessionIndexes = append(req.SessionIndexes, strings.TrimSpace(child.Text()))
		case child.Tag == "EncryptedID" || child.Tag == "BaseID":
			return req, fmt.Errorf("the LogoutRequest names the person by %s, which admit does not read: have the identity provider send a plain NameID", child.Tag)
		}
	}
	if req.NameID == nil || strings.TrimSpace(req.NameID.Value) == "" {
		return req, errors.New("the LogoutRequest names no one (no NameID)")
	}
	return req, nil
}

// checkMessage is what admit asks of a verified logout message besides
// its signature (saml-core 3.2.1 and 3.2.2; saml-bindings 3.4.5.2 and
// 3.5.5.2, which require a signed message's Destination to be where it
// arrived): an ID, version 2.0, issued by the connection's provider,
// addressed to this endpoint, issued in the last logoutMaxAge.
func checkMessage(id, version string, issuer *saml.Issuer, destination string, issued time.Time, idpEntityID, slo string, skew time.Duration, now time.Time) error {
	switch {
	case id == "":
		return errors.New("the message has no ID")
	case version != "2.0":
		return fmt.Errorf("the message is of SAML version %q, not 2.0", version)
	case issuer == nil || strings.TrimSpace(issuer.Value) != idpEntityID:
		got := ""
		if issuer != nil {
			got = issuer.Value
		}
		return fmt.Errorf("the message was issued by %q, not by this connection's identity provider %q", got, idpEntityID)
	case destination != slo:
		return fmt.Errorf("the message is addressed to %q, not to this connection's single logout URL %q", destination, slo)
	case issued.IsZero():
		return errors.New("the message has no IssueInstant")
	case issued.After(now.Add(skew)):
		return fmt.Errorf("the message was issued in the future (%s)", issued.UTC().Format(time.RFC3339))
	case issued.Before(now.Add(-logoutMaxAge - skew)):
		return fmt.Errorf("the message was issued at %s, more than %s ago", issued.UTC().Format(time.RFC3339), logoutMaxAge)
	}
	return nil
}

// sloEndpoint is where a logout message goes at the provider, and with
// which binding: the preferred one (the binding a request came with) when
// the provider offers it, else HTTP-Redirect, else HTTP-POST; "" when it
// offers neither (SOAP alone, or no single logout at all). A response goes
// to the endpoint's ResponseLocation when it has one (saml-metadata 2.2.2).
func sloEndpoint(ed *saml.EntityDescriptor, prefer string, response bool) (location, binding string) {
	for _, b := range []string{prefer, saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
		if b == "" {
			continue
		}
		for _, d := range ed.IDPSSODescriptors {
			for _, s := range d.SingleLogoutServices {
				if s.Binding != b || s.Location == "" {
					continue
				}
				if response && s.ResponseLocation != "" {
					return s.ResponseLocation, b
				}
				return s.Location, b
			}
		}
	}
	return "", ""
}

// newMessageID is the ID of a message admit makes: an xs:ID (an NCName,
// so not starting with a digit) of 160 random bits, as crewjam's.
func newMessageID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "id-" + hex.EncodeToString(b)
}

// handleSLO is the single logout endpoint: the provider's LogoutRequest,
// or its LogoutResponse to admit's.
func (h *Handler) handleSLO(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	at := attempt{Logout: "idp-initiated"}
	a, c, err := h.connectionAt(ctx, r, directory.ProtocolSAML)
	if err != nil {
		status := http.StatusInternalServerError
		if directory.KindOf(err) == directory.NotFound {
			status = http.StatusNotFound
		}
		h.refuseLogout(w, r, a, nil, refuse(status, "This sign-out link is not set up in admit.",
			"the single logout URL names no SAML connection: check the single logout URL configured at the identity provider", err), at)
		return
	}
	m, err := readSLO(r)
	if !m.request && err != errNoLogoutMessage {
		// An answer to admit's LogoutRequest: the person has signed out of
		// admit already; what remains is whether the provider confirms.
		h.logoutAnswered(w, r, a, c, m, err)
		return
	}
	if !c.Ready() {
		// As at the ACS: nothing is read, there is no key to verify with.
		h.refuseLogout(w, r, a, &c, refuse(http.StatusConflict, "Single sign-on for this organisation is not finished yet, so admit cannot act on this sign-out.",
			"connection "+c.Name+" is waiting for the identity provider's metadata: give it with admit sso set-metadata",
			errors.New("the connection is waiting for its identity provider's metadata")), at)
		return
	}
	if err != nil {
		h.refuseLogout(w, r, a, &c, refuse(http.StatusBadRequest, "The sign-out request could not be read.", "", err), at)
		return
	}
	if rf := h.idpLogout(w, r, a, c, m, &at); rf != nil {
		h.refuseLogout(w, r, a, &c, rf, at)
	}
}

// idpLogout acts on the provider's LogoutRequest (saml-profiles 4.4.4.1
// for the request, 4.4.4.2 for the answer): verified, it ends the sessions
// it names and is answered with a signed LogoutResponse.
func (h *Handler) idpLogout(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, m sloMessage, at *attempt) *refusal {
	ctx := r.Context()
	const notVerified = "admit could not verify a sign-out request of connection %s; the reference identifies the reason in its login log"
	md, err := ParseMetadata([]byte(c.Metadata))
	if err != nil {
		return refuse(http.StatusBadGateway, "Your organisation's identity provider is not set up correctly.",
			"admit cannot read the identity provider's metadata of connection "+c.Name, err)
	}
	now := h.now()
	root, err := m.verify(signingCertificates(md), now)
	if err != nil {
		return refuse(http.StatusForbidden, "Your organisation's identity provider sent a sign-out request that admit cannot accept, so nothing was signed out.",
			fmt.Sprintf(notVerified, c.Name), err)
	}
	// From here on the request is the provider's own.
	at.verified = true
	req, err := readLogoutRequest(root)
	if err != nil {
		return refuse(http.StatusForbidden, "Your organisation's identity provider sent a sign-out request that admit cannot accept, so nothing was signed out.",
			fmt.Sprintf(notVerified, c.Name), err)
	}
	at.Subject, at.SessionIndexes, at.MessageID = req.NameID.Value, req.SessionIndexes, req.ID
	skew := c.ClockSkew()
	slo := SAMLURLs(h.base, a.Slug, c.Name).SLO
	if err := checkMessage(req.ID, req.Version, req.Issuer, req.Destination, req.IssueInstant, md.EntityID, slo, skew, now); err != nil {
		return refuse(http.StatusForbidden, "Your organisation's identity provider sent a sign-out request that admit cannot accept, so nothing was signed out.",
			fmt.Sprintf(notVerified, c.Name), err)
	}
	// saml-core 3.7.1: a request past its NotOnOrAfter is not acted on.
	if req.NotOnOrAfter != nil && !now.Before(req.NotOnOrAfter.Add(skew)) {
		return refuse(http.StatusForbidden, "This sign-out request has expired. Sign out again at your organisation's identity provider.", "",
			fmt.Errorf("the LogoutRequest expired at %s", req.NotOnOrAfter.UTC().Format(time.RFC3339)))
	}
	if len(m.relayState) > maxRelayState {
		return refuse(http.StatusBadRequest, "The sign-out request could not be read.", "",
			fmt.Errorf("RelayState is %d bytes long, more than %d", len(m.relayState), maxRelayState))
	}
	// Used up before it is acted on, on any replica: a copy posted again
	// (by whoever saw it go by) is refused, kept with the unverified junk.
	if err := h.dir.AcceptLogoutRequestOnce(ctx, c, req.ID, req.IssueInstant.Add(logoutMaxAge)); err != nil {
		if directory.KindOf(err) == directory.Conflict {
			at.verified = false
			return refuse(http.StatusForbidden, "This sign-out request was already used.", "", err)
		}
		return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
	}
	out, err := h.dir.EndSAMLSessions(ctx, c, req.NameID.Value, req.SessionIndexes)
	if err != nil {
		return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
	}
	at.Sessions = out.Sessions
	reason := "no session of this NameID was open (already signed out)"
	if out.Sessions > 0 {
		reason = "ended " + sessionsWord(out.Sessions) + " of " + strings.Join(out.Emails, ", ")
	}
	email := ""
	if len(out.Emails) > 0 {
		email = out.Emails[0]
	}
	h.recordAttempt(ctx, c, OutcomeSignedOut, reason, web.RequestIDFrom(ctx), email, *at)
	h.log.InfoContext(ctx, "signed out by the identity provider", "account", a.Slug, "connection", c.Name, "sessions", out.Sessions)
	// Nothing matched is Success too: the person is not signed in here,
	// which is what the provider asks (Shibboleth's SP answers alike).
	if err := h.answerLogout(w, r, a, c, md, req.ID, m.binding, m.relayState); err != nil {
		h.log.ErrorContext(ctx, "answer LogoutRequest", "account", a.Slug, "connection", c.Name, "err", err)
		// The sessions ended; the person lands on admit's own page.
		http.Redirect(w, r, signedOutPath, http.StatusSeeOther)
	}
	return nil
}

// Outcomes of logouts in the login log, beside "signed in" and "refused".
const (
	// OutcomeSignedOut: the provider's LogoutRequest was acted on.
	OutcomeSignedOut = "signed out by the identity provider"
	// OutcomeLogoutRefused: a LogoutRequest was refused; nothing ended.
	OutcomeLogoutRefused = "logout refused"
	// OutcomeLogoutConfirmed: the provider confirmed the person who signed
	// out of admit is signed out there too.
	OutcomeLogoutConfirmed = "logout confirmed"
	// OutcomeLogoutUnconfirmed: its answer to admit's LogoutRequest was
	// refused or not a success; the person is signed out of admit only.
	OutcomeLogoutUnconfirmed = "logout not confirmed"
)

// signedOutPath is admit's signed-out page (package login); unconfirmed
// says there that the provider did not confirm its part.
const (
	signedOutPath   = "/logout?signed_out=1"
	unconfirmedPath = "/logout?signed_out=1&idp=unconfirmed"
)

// logoutSP is crewjam's SP of the connection, for making logout messages.
func (h *Handler) logoutSP(a directory.Account, c directory.Connection, keys certs.Set, md *saml.EntityDescriptor) *saml.ServiceProvider {
	u := SAMLURLs(h.base, a.Slug, c.Name)
	slo, _ := url.Parse(u.SLO)
	return &saml.ServiceProvider{EntityID: u.EntityID, Key: keys.Active.Key, Certificate: keys.Active.Certificate, IDPMetadata: md,
		SloURL: *slo, SignatureMethod: dsig.RSASHA256SignatureMethod}
}

// answerLogout sends the provider a signed LogoutResponse with status
// Success to its request requestID, with the RelayState it came with
// (saml-bindings 3.4.3), by the binding it came with when the provider
// takes answers there. A provider with nowhere to answer leaves the person
// on admit's signed-out page.
func (h *Handler) answerLogout(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, md *saml.EntityDescriptor, requestID, binding, relayState string) error {
	loc, binding := sloEndpoint(md, binding, true)
	if loc == "" {
		http.Redirect(w, r, signedOutPath, http.StatusSeeOther)
		return nil
	}
	keys, err := h.certs.Current(r.Context())
	if err != nil {
		return err
	}
	sp := h.logoutSP(a, c, keys, md)
	resp := &saml.LogoutResponse{ID: newMessageID(), InResponseTo: requestID, Version: "2.0", IssueInstant: h.now().UTC(), Destination: loc,
		Issuer: &saml.Issuer{Format: entityFormat, Value: sp.EntityID}, Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}}
	return h.sendLogout(w, r, a, sp, binding, loc, "SAMLResponse", relayState, resp.Element, func() error { return sp.SignLogoutResponse(resp) }, false)
}

// sendLogout sends a logout message to the provider: with HTTP-Redirect,
// unsigned XML deflated into the query, which is signed (saml-bindings
// 3.4.4.1); with HTTP-POST, signed in the XML (sign), on a page whose form
// posts it (3.5.4). page asks for a page with a link rather than a
// redirect: a browser applies the CSP's form-action of the form it
// submitted (sign out) to the redirects that follow, and the provider is
// no origin of admit's pages.
func (h *Handler) sendLogout(w http.ResponseWriter, r *http.Request, a directory.Account, sp *saml.ServiceProvider, binding, loc, param, relayState string,
	element func() *etree.Element, sign func() error, page bool) error {
	if binding == saml.HTTPPostBinding {
		if err := sign(); err != nil {
			return fmt.Errorf("sign logout message: %w", err)
		}
		doc := etree.NewDocument()
		doc.SetRoot(element())
		b, err := doc.WriteToBytes()
		if err != nil {
			return fmt.Errorf("encode logout message: %w", err)
		}
		h.pages.Render(w, r, http.StatusOK, h.tmpl["logout_post"], web.Page{
			Title: "Signing out", Branding: branding(a), FormTargets: []string{loc},
			Data: map[string]string{"Action": loc, "Field": param, "Value": base64.StdEncoding.EncodeToString(b), "RelayState": relayState},
		})
		return nil
	}
	to, err := redirectURL(loc, param, element(), relayState, sp)
	if err != nil {
		return err
	}
	if page {
		h.pages.Render(w, r, http.StatusOK, h.tmpl["logout_redirect"], web.Page{Title: "Signing out", Branding: branding(a), Data: map[string]string{"URL": to}})
		return nil
	}
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// redirectURL is the HTTP-Redirect binding's URL for a message (saml-
// bindings 3.4.4.1): the XML DEFLATE-compressed and base64-encoded, the
// RelayState, the algorithm, and the signature over exactly those
// parameters as encoded here, made with crewjam's signing context.
func redirectURL(loc, param string, el *etree.Element, relayState string, sp *saml.ServiceProvider) (string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	var compressed bytes.Buffer
	fw, err := flate.NewWriter(&compressed, flate.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := doc.WriteTo(fw); err != nil {
		return "", fmt.Errorf("encode logout message: %w", err)
	}
	if err := fw.Close(); err != nil {
		return "", err
	}
	query := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(compressed.Bytes()))
	if relayState != "" {
		query += "&RelayState=" + url.QueryEscape(relayState)
	}
	query += "&SigAlg=" + url.QueryEscape(sp.SignatureMethod)
	signer, err := saml.GetSigningContext(sp)
	if err != nil {
		return "", err
	}
	sig, err := signer.SignString(query)
	if err != nil {
		return "", fmt.Errorf("sign logout message: %w", err)
	}
	query += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("the identity provider's single logout URL: %w", err)
	}
	if u.RawQuery != "" {
		u.RawQuery += "&" + query
	} else {
		u.RawQuery = query
	}
	return u.String(), nil
}

// ContinueLogout sends a person who has just signed out of admit on to the
// identity provider of the SAML connection that signed their session in,
// with a signed LogoutRequest naming that session (saml-profiles 4.4.3.1),
// when the provider's metadata offers single logout. Its answer comes to
// the single logout endpoint (logoutAnswered). It reports whether it
// answered the request; false, having written nothing, when there is no
// provider to send the person to.
func (h *Handler) ContinueLogout(w http.ResponseWriter, r *http.Request, out directory.SignedOut) bool {
	c, sub := out.Connection, out.Session.Credential.SAML
	if c.ID == "" || c.Protocol != directory.ProtocolSAML || !c.Ready() || sub.NameID == "" {
		return false
	}
	ctx := r.Context()
	md, err := ParseMetadata([]byte(c.Metadata))
	if err != nil {
		return false
	}
	loc, binding := sloEndpoint(md, "", false)
	if loc == "" {
		return false
	}
	if err := h.startLogout(w, r, out.Account, c, md, sub, loc, binding); err != nil {
		h.log.ErrorContext(ctx, "start single logout", "account", out.Account.Slug, "connection", c.Name, "err", err)
		h.recordAttempt(ctx, c, OutcomeLogoutUnconfirmed, "admit could not send the LogoutRequest: "+err.Error(), web.RequestIDFrom(ctx), "",
			attempt{Logout: "sp-initiated", Subject: sub.NameID, verified: true})
		http.Redirect(w, r, unconfirmedPath, http.StatusSeeOther)
	}
	return true
}

func (h *Handler) startLogout(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, md *saml.EntityDescriptor, sub directory.SAMLSubject, loc, binding string) error {
	keys, err := h.certs.Current(r.Context())
	if err != nil {
		return err
	}
	sp := h.logoutSP(a, c, keys, md)
	now := h.now()
	// The NameID as the assertion had it, Format and qualifiers included,
	// and its SessionIndex: this session, not every one of the person's
	// (saml-core 3.7.1).
	req := &saml.LogoutRequest{ID: newMessageID(), Version: "2.0", IssueInstant: now.UTC(), Destination: loc,
		Issuer: &saml.Issuer{Format: entityFormat, Value: sp.EntityID},
		NameID: &saml.NameID{Value: sub.NameID, Format: sub.Format, NameQualifier: sub.NameQualifier, SPNameQualifier: sub.SPNameQualifier}}
	if sub.SessionIndex != "" {
		req.SessionIndex = &saml.SessionIndex{Value: sub.SessionIndex}
	}
	// The RelayState is random and kept with the request in this browser:
	// the answer is taken only by the browser that left, and whatever the
	// provider puts there is compared, never followed.
	relay := randomToken()[:32]
	if err := h.pending.start(w, r, pending{ID: req.ID, Connection: c.ID, Logout: true, RelayState: relay, Expires: now.Add(directory.SSORequestLifetime)}, now); err != nil {
		return fmt.Errorf("remember LogoutRequest: %w", err)
	}
	return h.sendLogout(w, r, a, sp, binding, loc, "SAMLRequest", relay, req.Element, func() error { return sp.SignLogoutRequest(req) }, true)
}

// logoutAnswered takes the provider's LogoutResponse to admit's request
// (saml-profiles 4.4.3.4). The person signed out of admit before leaving;
// whatever arrives, they land on admit's signed-out page, which says
// whether the provider confirmed. A response is believed only when it is
// signed by the provider, answers the request this browser sent (its
// InResponseTo, and the RelayState when it returns one), is addressed
// here, fresh, and used once. Its RelayState is never followed.
func (h *Handler) logoutAnswered(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, m sloMessage, readErr error) {
	ctx := r.Context()
	at := attempt{Logout: "sp-initiated"}
	outcome, reason, err := h.checkLogoutAnswer(w, r, a, c, m, readErr, &at)
	if err != nil {
		reason = err.Error()
	}
	level := slog.LevelInfo
	if outcome == OutcomeLogoutUnconfirmed {
		level = slog.LevelWarn
	}
	h.log.Log(ctx, level, "single logout answered", "account", a.Slug, "connection", c.Name, "outcome", outcome, "reason", reason)
	h.recordAttempt(ctx, c, outcome, reason, web.RequestIDFrom(ctx), "", at)
	if outcome == OutcomeLogoutConfirmed {
		http.Redirect(w, r, signedOutPath, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, unconfirmedPath, http.StatusSeeOther)
}

// checkLogoutAnswer returns the outcome of a LogoutResponse and why.
func (h *Handler) checkLogoutAnswer(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, m sloMessage, readErr error, at *attempt) (string, string, error) {
	ctx := r.Context()
	unconfirmed := OutcomeLogoutUnconfirmed
	if readErr != nil {
		return unconfirmed, "", fmt.Errorf("the LogoutResponse could not be read: %w", readErr)
	}
	if !c.Ready() {
		return unconfirmed, "", errors.New("the connection is waiting for its identity provider's metadata")
	}
	md, err := ParseMetadata([]byte(c.Metadata))
	if err != nil {
		return unconfirmed, "", fmt.Errorf("the identity provider's metadata cannot be read: %w", err)
	}
	now := h.now()
	root, err := m.verify(signingCertificates(md), now)
	if err != nil {
		return unconfirmed, "", err
	}
	var resp saml.LogoutResponse
	if err := decode(root, &resp); err != nil {
		return unconfirmed, "", fmt.Errorf("the LogoutResponse cannot be read: %v", err)
	}
	at.MessageID = resp.InResponseTo
	slo := SAMLURLs(h.base, a.Slug, c.Name).SLO
	if err := checkMessage(resp.ID, resp.Version, resp.Issuer, resp.Destination, resp.IssueInstant, md.EntityID, slo, c.ClockSkew(), now); err != nil {
		return unconfirmed, "", err
	}
	req, err := h.pending.take(w, r, c, resp.InResponseTo, true, now)
	if err != nil {
		return unconfirmed, "", fmt.Errorf("InResponseTo %q %w", resp.InResponseTo, err)
	}
	if m.relayState != "" && m.relayState != req.RelayState {
		return unconfirmed, "", fmt.Errorf("the RelayState %q is not the one sent with the LogoutRequest", clipText(m.relayState, 100))
	}
	// Verified, and this browser's: the provider's own word from here.
	at.verified = true
	if err := h.dir.FinishSSO(ctx, c, req.ID, req.Expires); err != nil {
		if directory.KindOf(err) == directory.Conflict {
			at.verified = false
		}
		return unconfirmed, "", fmt.Errorf("InResponseTo %q: %w", resp.InResponseTo, err)
	}
	if code := resp.Status.StatusCode; code.Value != saml.StatusSuccess {
		detail := code.Value
		if code.StatusCode != nil {
			detail += " / " + code.StatusCode.Value
		}
		if resp.Status.StatusMessage != nil && resp.Status.StatusMessage.Value != "" {
			detail += ": " + clipText(resp.Status.StatusMessage.Value, 200)
		}
		return unconfirmed, "the identity provider did not sign the person out: " + detail, nil
	}
	return OutcomeLogoutConfirmed, "the identity provider signed the person out too", nil
}

// refuseLogout logs a refused LogoutRequest, records it in the
// connection's login log and shows a page saying nothing was signed out.
func (h *Handler) refuseLogout(w http.ResponseWriter, r *http.Request, a directory.Account, c *directory.Connection, rf *refusal, at attempt) {
	ctx := r.Context()
	ref := web.RequestIDFrom(ctx)
	level := slog.LevelInfo
	if rf.status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(ctx, level, "single logout refused", "account", a.Slug, "connection", nameOf(c), "reason", rf.reason.Error(), "reference", ref)
	if c != nil {
		h.recordAttempt(ctx, *c, OutcomeLogoutRefused, rf.reason.Error(), ref, "", at)
	}
	if rf.status == http.StatusServiceUnavailable {
		web.SetRetryAfter(w)
	}
	h.pages.Render(w, r, rf.status, h.tmpl["logout_failure"], web.Page{
		Title: "Sign-out failed", Branding: branding(a),
		Data: map[string]string{"Message": rf.message, "ForAdmin": rf.forAdmin},
	})
}

// sessionsWord is for messages: "1 session", "2 sessions".
func sessionsWord(n int) string {
	if n == 1 {
		return "1 session"
	}
	return strconv.Itoa(n) + " sessions"
}
