package provider

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/text/unicode/norm"

	"github.com/admit-dev/admit/directory"
)

// The endpoints an app calls itself (not a browser), whose errors are
// OAuth JSON.
const (
	tokenPath         = "/oauth/token"
	introspectionPath = "/oauth/introspect"
	revocationPath    = "/oauth/revoke"
	userinfoPath      = "/oauth/userinfo"
)

// writeOAuthError sends an error answer op wrote (status and body), in
// the shape the app's library expects where op's is not it:
//   - introspection (RFC 7662 section 2.3, RFC 6749 section 5.2): op
//     answers a client it cannot authenticate with Go's text of the error
//     ("ErrorType=invalid_client Parent=..."); the app gets the JSON error;
//   - userinfo (RFC 6750 section 3): op answers a missing or invalid access
//     token with text and no challenge, and one the directory refuses
//     (revoked, membership ended) with 403; the app gets 401 with
//     WWW-Authenticate: Bearer, error="invalid_token" when a token came;
//   - token, introspection and revocation: invalid_client comes with
//     WWW-Authenticate: Basic, as RFC 6749 section 5.2 asks of a 401.
//
// A server_error op answers there as a refusal (a storage fault while it
// authenticates the client at introspection, or reads the token at
// userinfo) goes out as 500 server_error and is logged, which op does not
// do at these two endpoints: invalid_client would tell the app its secret
// is wrong, invalid_token would end the person's session in the app.
//
// Refusals at introspection and revocation, where op logs nothing, are
// logged here with the client_id (never the secret).
//
// Anything else goes out as op wrote it.
func (h *Handler) writeOAuthError(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	textual := strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain")
	switch r.URL.Path {
	case userinfoPath:
		if status != http.StatusUnauthorized && status != http.StatusForbidden {
			break
		}
		var e struct {
			Error string `json:"error"`
		}
		if !textual && json.Unmarshal(body, &e) == nil && e.Error == string(oidc.ServerError) {
			h.serverError(w, r)
			return
		}
		if !carriesAccessToken(r) {
			// No error code: the request had no authentication at all
			// (RFC 6750 section 3.1).
			w.Header().Set("WWW-Authenticate", `Bearer realm="admit"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_request", "the request carries no access token")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="admit", error="invalid_token", error_description="the access token is not valid"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token", "the access token is not valid")
		return
	case introspectionPath:
		if textual {
			// op writes text here only when it cannot read the request or
			// authenticate the client; it answers 401 for both, a storage
			// fault (its Go text starts with the error type) too. op
			// logs none of them here.
			reason := strings.TrimSpace(string(body))
			if strings.HasPrefix(reason, "ErrorType="+string(oidc.ServerError)) {
				h.log.ErrorContext(r.Context(), "introspection failed", "client_id", clientIDOf(r), "err", reason)
				h.serverError(w, r)
				return
			}
			h.log.InfoContext(r.Context(), "introspection refused", "client_id", clientIDOf(r), "reason", reason)
			w.Header().Set("WWW-Authenticate", `Basic realm="admit"`)
			writeJSONError(w, http.StatusUnauthorized, "invalid_client", "the app is not authenticated: send its client_id and client_secret")
			return
		}
		fallthrough
	case tokenPath, revocationPath:
		if r.URL.Path == revocationPath {
			// op logs nothing at revocation.
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			_ = json.Unmarshal(body, &e)
			if status >= 500 {
				h.log.ErrorContext(r.Context(), "revocation failed", "client_id", clientIDOf(r), "status", status, "error", e.Error)
			} else {
				h.log.InfoContext(r.Context(), "revocation refused", "client_id", clientIDOf(r), "status", status, "error", e.Error, "reason", e.Description)
			}
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="admit"`)
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(describedInASCII(body))
}

// describedInASCII is an OAuth JSON error with its error_description
// made one RFC 6749 allows (oauthText); anything else as it is.
func describedInASCII(body []byte) []byte {
	var e map[string]any
	if json.Unmarshal(body, &e) != nil {
		return body
	}
	d, ok := e["error_description"].(string)
	if !ok || d == oauthText(d) {
		return body
	}
	e["error_description"] = oauthText(d)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(e) != nil {
		return body
	}
	return b.Bytes()
}

// oauthText makes s an error_description RFC 6749 section 5.2 allows:
// printable ASCII without '"' or '\' (%x20-21 / %x23-5B / %x5D-7E). A
// description may name an app, an organisation or a parameter the app
// sent, in any script; a library that checks the grammar refuses the
// whole answer, and the WWW-Authenticate header cannot carry it. Letters
// lose their accents (é is e), compatibility forms their decomposition
// (… is ...), quotation marks become ', dashes -, a backslash /, spaces
// and controls a space, invisible marks nothing, and any other
// character ?.
func oauthText(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		switch {
		case r == '"' || strings.ContainsRune("‘’‚‛“”„‟«»‹›", r):
			b.WriteByte('\'')
		case r == '\\':
			b.WriteByte('/')
		case strings.ContainsRune("‐‑‒–—―−", r):
			b.WriteByte('-')
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Cf, r):
			// An accent NFKD took off its letter, or an invisible mark (a
			// zero-width joiner).
		case unicode.IsSpace(r) || unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// serverError answers 500 server_error (RFC 6749 section 5.2 has no 5xx
// code; the libraries read the JSON error whatever the status).
func (h *Handler) serverError(w http.ResponseWriter, r *http.Request) {
	writeJSONError(w, http.StatusInternalServerError, "server_error", "admit could not answer; please try again")
}

// clientIDOf is the client_id a request names, in its Basic header or
// its form (never its secret).
func clientIDOf(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	return r.PostForm.Get("client_id")
}

// carriesAccessToken reports whether a userinfo request sent an access
// token, in the header, the form or the query (RFC 6750 section 2);
// readForm has read the form.
func carriesAccessToken(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Form.Get("access_token") != ""
}

func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": oauthText(description)})
}

// grants are the grant types discovery lists. op also takes the JWT
// bearer grant (RFC 7523) whatever the storage, and answers an assertion
// by checking it before it asks the storage, which refuses the grant: an
// app gets invalid_grant, as if its assertion were wrong.
var grants = []string{string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken)}

// advertisedGrants answers a token request for another grant type
// unsupported_grant_type (RFC 6749 section 5.2) before op reads it.
func (h *Handler) advertisedGrants(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath && r.Method == http.MethodPost && r.ParseForm() == nil {
			if g := r.PostForm.Get("grant_type"); g != "" && !slices.Contains(grants, g) {
				h.log.InfoContext(r.Context(), "token request refused", "grant_type", g, "reason", "grant type not supported")
				writeJSONError(w, http.StatusBadRequest, "unsupported_grant_type", "admit grants authorization_code and refresh_token only")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// wellFormedVerifier answers a code exchange whose code_verifier RFC 7636
// does not allow (directory.CheckPKCEVerifier) invalid_request, a
// malformed parameter (RFC 6749 section 5.2), saying why, before op
// compares it with the challenge: op takes any verifier whose hash
// matches, a guessable one too. (A well-formed verifier that does not
// match stays op's invalid_grant, RFC 7636 section 4.6.) The code stays
// unused.
func (h *Handler) wellFormedVerifier(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath && r.Method == http.MethodPost && r.ParseForm() == nil &&
			r.PostForm.Get("grant_type") == string(oidc.GrantTypeCode) && r.PostForm.Has("code_verifier") {
			if err := directory.CheckPKCEVerifier(r.PostForm.Get("code_verifier")); err != nil {
				h.log.InfoContext(r.Context(), "token request refused", "client_id", clientIDOf(r), "reason", "code_verifier of a form RFC 7636 does not allow")
				writeJSONError(w, http.StatusBadRequest, "invalid_request", directory.Message(err))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// redirectURIRequired answers a code exchange without redirect_uri
// invalid_request, before op reads the code: RFC 6749 section 4.1.3 makes
// it REQUIRED when the authorization request had one, which every
// authorization request to admit has (OpenID Connect Core section
// 3.1.2.1), and a missing required parameter is invalid_request (section
// 5.2). op answered invalid_grant ("redirect_uri does not correspond"),
// which sends the app's developer to look at the code, and used the code
// up. One that differs from the request's stays op's invalid_grant.
func (h *Handler) redirectURIRequired(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath && r.Method == http.MethodPost && r.ParseForm() == nil &&
			r.PostForm.Get("grant_type") == string(oidc.GrantTypeCode) && r.PostForm.Get("redirect_uri") == "" {
			h.log.InfoContext(r.Context(), "token request refused", "client_id", clientIDOf(r), "reason", "no redirect_uri")
			writeJSONError(w, http.StatusBadRequest, "invalid_request", "redirect_uri is required: the one the authorization request sent (RFC 6749 section 4.1.3)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// onceEach refuses, at the endpoints an app authenticates to (token,
// introspection, revocation), a request that repeats a parameter, that
// lacks the token to introspect or revoke, or that authenticates the app
// two ways: RFC 6749 sections 3.2 and 2.3 forbid
// both, and section 5.2 names the answer, invalid_request. op reads the
// first of a repeated parameter; a proxy or firewall before admit may read
// the last, and then the two disagree on what the app asked for. Likewise
// a Basic header and a client_secret in the form: which of the two
// authenticated the app would be op's choice, not the app's. A client_id
// in the form beside the header is allowed (it is no credential) when it
// names the same app.
func (h *Handler) onceEach(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case tokenPath, introspectionPath, revocationPath:
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			next.ServeHTTP(w, r) // op answers what it cannot read
			return
		}
		refuse := func(reason string) {
			h.log.InfoContext(r.Context(), "app request refused", "path", r.URL.Path, "client_id", clientIDOf(r), "reason", reason)
			writeJSONError(w, http.StatusBadRequest, "invalid_request", reason)
		}
		// appTransport refused a query: r.Form is the body.
		for _, name := range slices.Sorted(maps.Keys(r.Form)) {
			if len(r.Form[name]) > 1 {
				refuse("the parameter " + strconv.Quote(name) + " is sent more than once")
				return
			}
		}
		if (r.URL.Path == introspectionPath || r.URL.Path == revocationPath) && r.Form.Get("token") == "" {
			// REQUIRED (RFC 7662 section 2.1, RFC 7009 section 2.1): op
			// answered {"active":false} and 200, which told the app
			// nothing of its mistake.
			refuse("the token parameter is required: the token to introspect or revoke")
			return
		}
		if id, _, basic := r.BasicAuth(); basic {
			if r.Form.Has("client_secret") {
				refuse("the app is authenticated two ways: send its secret in the Authorization header or in the form, not both")
				return
			}
			if u, err := url.QueryUnescape(id); err == nil && r.Form.Has("client_id") && r.Form.Get("client_id") != u {
				refuse("the client_id in the form is not the app the Authorization header authenticates")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// appTransport holds the endpoints an app calls itself to how RFC 6749
// and RFC 6750 say tokens and credentials travel:
//   - token, introspection and revocation take POST, their parameters in
//     the form body and none in the URL (RFC 6749 section 3.2, RFC 7009
//     section 2.1, RFC 7662 section 2.1): a code, a refresh token or a
//     client secret in a URL lands in the access logs of every proxy on
//     the way, and in the app's own. (op reads the query as the form, and
//     answers GET.) Another method gets 405; a browser's CORS preflight
//     (OPTIONS) goes on to op, which answers it.
//   - userinfo takes the access token in the Authorization header or in a
//     form body, not in the URL (RFC 6750 section 2.3: "SHOULD NOT be
//     used", for the same logs, and the Referer), and by one method only
//     (section 2: "MUST NOT use more than one"); op took either, and
//     read the header when both came.
//   - every answer of the four carries Cache-Control: no-store and Pragma:
//     no-cache (RFC 6749 section 5.1 asks it of "any response containing
//     tokens, credentials, or other sensitive information"; userinfo's is
//     the person's claims); op sends neither.
func (h *Handler) appTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case tokenPath, introspectionPath, revocationPath, userinfoPath:
		default:
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		refuse := func(status int, reason string) {
			h.log.InfoContext(r.Context(), "app request refused", "path", r.URL.Path, "method", r.Method, "reason", reason)
			if r.URL.Path == userinfoPath {
				w.Header().Set("WWW-Authenticate", `Bearer realm="admit", error="invalid_request", error_description="`+reason+`"`)
			}
			writeJSONError(w, status, "invalid_request", reason)
		}
		if r.URL.Path == userinfoPath {
			if r.URL.Query().Has("access_token") {
				refuse(http.StatusBadRequest, "send the access token in the Authorization header, not in the URL")
				return
			}
			if r.Header.Get("Authorization") != "" && r.ParseForm() == nil && r.PostForm.Has("access_token") {
				refuse(http.StatusBadRequest, "send the access token one way: in the Authorization header or in the form, not both")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case r.Method == http.MethodOptions:
		case r.Method != http.MethodPost:
			w.Header().Set("Allow", http.MethodPost)
			refuse(http.StatusMethodNotAllowed, "use POST, with the parameters in the form body")
			return
		case r.URL.RawQuery != "":
			refuse(http.StatusBadRequest, "send the parameters in the form body, not in the URL")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readForm lets an app authenticate at introspection with
// client_secret_post, as it may at the token and revocation endpoints:
// op reads only HTTP Basic there, and openid-client, for one, sends the
// secret in the form unless told otherwise. The form's credentials become
// the Basic header op reads (which it unescapes: RFC 6749 section 2.3.1).
// It also reads the form of a userinfo request before op does (op reads
// it on a copy of the request), for carriesAccessToken.
func readForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case userinfoPath:
			_ = r.ParseForm() // op answers a form it cannot read
		case introspectionPath:
			if r.Header.Get("Authorization") == "" && r.ParseForm() == nil && r.PostForm.Get("client_id") != "" && r.PostForm.Get("client_secret") != "" {
				r.SetBasicAuth(url.QueryEscape(r.PostForm.Get("client_id")), url.QueryEscape(r.PostForm.Get("client_secret")))
			}
		}
		next.ServeHTTP(w, r)
	})
}
