package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	elimity "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/admit-dev/admit/directory"
)

// maxBody bounds a SCIM request; larger ones get a 413 in the SCIM error
// schema.
const maxBody = 1 << 20

// prefix is where SCIM is served (RFC 7644 §3.13: the version in the path).
const prefix = "/scim/v2"

// Handler serves /scim/v2/.
type Handler struct {
	dir  *directory.Service
	base string // absolute: https://admit.example.com/scim/v2
	log  *slog.Logger
	// discovery serves /Schemas and /ResourceTypes: elimity-com/scim's
	// documents of the schemas it validates against.
	discovery http.Handler
	// providerConfig is the ServiceProviderConfig document, encoded once.
	providerConfig []byte
	users, groups  resourceType
}

// New returns the SCIM server; baseURL is admit's public URL.
func New(dir *directory.Service, baseURL string, log *slog.Logger) (*Handler, error) {
	h := &Handler{
		dir: dir, base: strings.TrimSuffix(baseURL, "/") + prefix, log: log,
		users:  newResourceType(schema.CoreUserSchema(), schema.ExtensionEnterpriseUser()),
		groups: newResourceType(schema.CoreGroupSchema()),
	}
	// Only the discovery documents are the library's: the resource
	// endpoints are admit's own routes, so its handlers are never called.
	srv, err := elimity.NewServer(&elimity.ServerArgs{
		ServiceProviderConfig: &elimity.ServiceProviderConfig{MaxResults: directory.MaxPageSize, SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []elimity.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("A member of the account"),
			Schema:           schema.CoreUserSchema(),
			SchemaExtensions: []elimity.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
		}, {
			ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("A group of the account's users"),
			Schema: schema.CoreGroupSchema(),
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("SCIM server: %w", err)
	}
	h.discovery = http.StripPrefix(prefix, srv)
	h.providerConfig, err = json.Marshal(serviceProviderConfig())
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Register lists SCIM's routes. The bearer token of every request selects
// the account (serve).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET "+prefix+"/Users", h.serve(h.listUsers))
	mux.Handle("POST "+prefix+"/Users", h.serve(h.createUser))
	mux.Handle("GET "+prefix+"/Users/{id}", h.serve(h.getUser))
	mux.Handle("PUT "+prefix+"/Users/{id}", h.serve(h.replaceUser))
	mux.Handle("PATCH "+prefix+"/Users/{id}", h.serve(h.patchUser))
	mux.Handle("DELETE "+prefix+"/Users/{id}", h.serve(h.deleteUser))
	mux.Handle("GET "+prefix+"/Groups", h.serve(h.listGroups))
	mux.Handle("POST "+prefix+"/Groups", h.serve(h.createGroup))
	mux.Handle("GET "+prefix+"/Groups/{id}", h.serve(h.getGroup))
	mux.Handle("PUT "+prefix+"/Groups/{id}", h.serve(h.replaceGroup))
	mux.Handle("PATCH "+prefix+"/Groups/{id}", h.serve(h.patchGroup))
	mux.Handle("DELETE "+prefix+"/Groups/{id}", h.serve(h.deleteGroup))
	mux.Handle("GET "+prefix+"/ServiceProviderConfig", h.serve(h.getServiceProviderConfig))
	for _, p := range []string{"/Schemas", "/Schemas/{id}", "/ResourceTypes", "/ResourceTypes/{id}"} {
		mux.Handle("GET "+prefix+p, h.serve(h.discover))
	}
	mux.Handle(prefix+"/", h.serve(func(http.ResponseWriter, *http.Request, caller) error {
		return &problem{status: http.StatusNotFound, detail: "there is no SCIM endpoint at this address and method"}
	}))
}

// caller is who a request comes from: the account its token belongs to.
type caller struct {
	accountID string
	token     directory.SCIMToken
}

// scimFunc serves one authenticated SCIM request; an error it returns is
// answered in the SCIM error schema by serve.
type scimFunc func(w http.ResponseWriter, r *http.Request, c caller) error

// serve authenticates the request's bearer token, hands the caller to fn,
// and answers fn's error. The token is checked on every request, against
// the database: a revoked token fails on the next request, on every
// replica.
func (h *Handler) serve(fn scimFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		t, err := h.dir.CheckSCIMToken(r.Context(), bearer(r))
		if err == nil {
			err = fn(w, r, caller{accountID: t.AccountID, token: t})
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	})
}

// discover serves the library's /Schemas and /ResourceTypes documents.
func (h *Handler) discover(w http.ResponseWriter, r *http.Request, _ caller) error {
	h.discovery.ServeHTTP(w, r)
	return nil
}

func (h *Handler) getServiceProviderConfig(w http.ResponseWriter, _ *http.Request, _ caller) error {
	_, err := w.Write(h.providerConfig)
	return err
}

// documentationURI is the page of the manual on SCIM (RFC 7643 §5
// "documentationUri"; TestDocumentationURI checks that it is there).
const documentationURI = "https://github.com/admit-dev/admit/blob/main/docs/scim.md"

// serviceProviderConfig says what admit supports (RFC 7643 §5). It is
// admit's own document rather than the library's, which always says ETags
// are unsupported: admit sends meta.version and an ETag header, and
// honours If-Match on PUT, PATCH and DELETE.
func serviceProviderConfig() map[string]any {
	supported := func(b bool) map[string]bool { return map[string]bool{"supported": b} }
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": documentationURI,
		"patch":            supported(true),
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": maxBody},
		"filter":           map[string]any{"supported": true, "maxResults": directory.MaxPageSize},
		"changePassword":   supported(false),
		"sort":             supported(false),
		"etag":             supported(true),
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A token from admit scim-token create, sent as Authorization: Bearer <token>",
		}},
	}
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// readObject reads a request body, once, as a JSON object. Numbers stay
// json.Number, as the library's attribute validation expects them.
func readObject(r *http.Request) (map[string]any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, &problem{status: http.StatusRequestEntityTooLarge, detail: fmt.Sprintf("the request body is larger than %d bytes", maxBody)}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, invalidSyntax("the body is not a JSON object")
	}
	if d.More() {
		return nil, invalidSyntax("the body has more than one JSON value")
	}
	if at, ok := nulIn(m, ""); ok {
		return nil, invalidValue(at + " holds a NUL character (\\u0000), which no attribute may")
	}
	return m, nil
}

// nulIn reports whether a string of v (a key or a value) holds a NUL, and
// where, as an attribute path (emails[1].value): no attribute holds one,
// and PostgreSQL refuses to store it, so it is refused once, here.
func nulIn(v any, at string) (string, bool) {
	switch v := v.(type) {
	case string:
		return at, strings.ContainsRune(v, 0)
	case map[string]any:
		for k, e := range v {
			name := k
			if at != "" {
				name = at + "." + k
			}
			if strings.ContainsRune(k, 0) {
				return name, true
			}
			if where, ok := nulIn(e, name); ok {
				return where, true
			}
		}
	case []any:
		for i, e := range v {
			if where, ok := nulIn(e, fmt.Sprintf("%s[%d]", at, i)); ok {
				return where, true
			}
		}
	}
	return "", false
}

// writeJSON encodes v, once, as the response.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// writeResource answers with a resource: its ETag, and on 201 its
// Location (RFC 7644 §3.3).
func writeResource(w http.ResponseWriter, status int, res map[string]any) error {
	if meta, ok := res["meta"].(map[string]any); ok {
		if v, ok := meta["version"].(string); ok {
			w.Header().Set("ETag", v)
		}
		if loc, ok := meta["location"].(string); ok && status == http.StatusCreated {
			w.Header().Set("Location", loc)
		}
	}
	return writeJSON(w, status, res)
}

// problem is a request the SCIM protocol itself refuses (a body that is
// no JSON, a path the schema lacks), before anything reaches directory.
type problem struct {
	status   int
	scimType string
	detail   string
}

func (p *problem) Error() string { return p.detail }

func invalidSyntax(detail string) error {
	return &problem{status: http.StatusBadRequest, scimType: "invalidSyntax", detail: detail}
}

// scimError is the SCIM error schema (RFC 7644 §3.12).
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// retryAfter is what a throttled answer tells the client to wait, in
// seconds: Entra ID and Okta both honour Retry-After.
const retryAfter = "30"

// writeError answers err in the SCIM error schema and logs it once: a
// refusal at info, a failure of admit's at error.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var p *problem
	status, scimType, detail := 0, "", ""
	if errors.As(err, &p) {
		status, scimType, detail = p.status, p.scimType, p.detail
	} else {
		status, scimType = scimStatus(err)
		detail = directory.Message(err)
	}
	switch {
	case status == http.StatusServiceUnavailable:
		h.log.WarnContext(r.Context(), "SCIM request failed: directory unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	case status >= 500:
		h.log.ErrorContext(r.Context(), "SCIM request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	default:
		h.log.InfoContext(r.Context(), "SCIM request refused", "method", r.Method, "path", r.URL.Path, "status", status, "detail", detail)
	}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="admit SCIM"`)
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", retryAfter)
	case http.StatusServiceUnavailable:
		// The database is back in moments, or admit's readiness takes the
		// replica out: the same wait as every other edge.
		w.Header().Set("Retry-After", strconv.Itoa(directory.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/scim+json")
	_ = writeJSON(w, status, scimError{
		Schemas: []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail,
	})
}

// scimStatus is the one translation of directory error kinds to SCIM
// statuses and scimType keywords (RFC 7644 §3.12).
func scimStatus(err error) (int, string) {
	switch directory.KindOf(err) {
	case directory.NotFound:
		return http.StatusNotFound, ""
	case directory.Conflict:
		return http.StatusConflict, "uniqueness"
	case directory.PreconditionFailed:
		return http.StatusPreconditionFailed, ""
	case directory.Invalid:
		return http.StatusBadRequest, "invalidValue"
	case directory.Unauthenticated:
		return http.StatusUnauthorized, ""
	case directory.Forbidden:
		return http.StatusForbidden, ""
	case directory.Gone:
		return http.StatusGone, ""
	case directory.Throttled:
		// RFC 7644 names no status for it; identity providers (Entra ID,
		// Okta) back off and retry on 429 with Retry-After.
		return http.StatusTooManyRequests, ""
	case directory.Unavailable:
		return http.StatusServiceUnavailable, ""
	}
	return http.StatusInternalServerError, ""
}
