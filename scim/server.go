package scim

import (
	"bytes"
	"context"
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

// Handler serves /scim/v2/.
type Handler struct {
	dir  *directory.Service
	base string // absolute: https://admit.example.com/scim/v2
	log  *slog.Logger
	srv  elimity.Server
}

// New returns the SCIM server; baseURL is admit's public URL.
func New(dir *directory.Service, baseURL string, log *slog.Logger) (*Handler, error) {
	h := &Handler{dir: dir, base: strings.TrimSuffix(baseURL, "/") + "/scim/v2", log: log}
	srv, err := elimity.NewServer(&elimity.ServerArgs{
		ServiceProviderConfig: &elimity.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://github.com/admit-dev/admit#scim"),
			AuthenticationSchemes: []elimity.AuthenticationScheme{{
				Type: elimity.AuthenticationTypeOauthBearerToken, Name: "Bearer token",
				Description: "A token from admit scim-token create, sent as Authorization: Bearer <token>", Primary: true,
			}},
			MaxResults:       directory.MaxPageSize,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []elimity.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Description: optional.NewString("A member of the account"),
			Schema:           schema.CoreUserSchema(),
			SchemaExtensions: []elimity.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
			Handler:          users{h},
		}, {
			ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups", Description: optional.NewString("A group of the account's users"),
			Schema:  schema.CoreGroupSchema(),
			Handler: groups{h},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("SCIM server: %w", err)
	}
	h.srv = srv
	return h, nil
}

// Register adds /scim/v2/ to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/scim/v2/", h)
}

// ServeHTTP authenticates the request, serves the listing and reading of
// users itself (filters, attributes, absolute locations), and hands the
// rest to elimity-com/scim with the bodies and responses mended where the
// library or the identity providers fall short.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/scim+json")
	a, t, err := h.dir.AuthenticateSCIM(r.Context(), bearer(r))
	if err != nil {
		if directory.KindOf(err) != directory.Unauthenticated {
			h.failWith(w, r, err)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="admit SCIM"`)
		h.fail(w, r, http.StatusUnauthorized, "", directory.Message(err))
		return
	}
	// The library hands its handlers only the request: the account and
	// token ride in its context, so no handler looks the token up again.
	c := &caller{account: a, token: t}
	r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/scim/v2"), "/")
	if r.Method == http.MethodGet {
		switch {
		case strings.EqualFold(path, "/Users"):
			h.listUsers(w, r)
			return
		case strings.EqualFold(path, "/Groups"):
			h.listGroups(w, r)
			return
		case hasPrefixFold(path, "/Users/"):
			h.getUser(w, r, path[len("/Users/"):])
			return
		case hasPrefixFold(path, "/Groups/"):
			h.getGroup(w, r, path[len("/Groups/"):])
			return
		}
	}
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			h.fail(w, r, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the request body is larger than %d bytes", maxBody))
			return
		}
		if body, err = normalizeBody(body, r.Method == http.MethodPatch); err != nil {
			h.fail(w, r, http.StatusBadRequest, "invalidSyntax", err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	rec := &recorder{header: http.Header{}}
	http.StripPrefix("/scim/v2", h.srv).ServeHTTP(rec, r)
	if c.err != nil {
		// The library answers errors it does not know with a 500 carrying
		// their text; a directory error is answered by its kind here.
		h.failWith(w, r, c.err)
		return
	}
	if strings.EqualFold(path, "/ServiceProviderConfig") {
		supportETags(rec)
	}
	h.mend(w, rec)
}

type callerKey struct{}

// caller is who a request comes from: the account its token belongs to.
// err is the directory error a handler the library called met, for
// ServeHTTP to answer.
type caller struct {
	account directory.Account
	token   directory.SCIMToken
	err     error
}

// callerOf returns the caller ServeHTTP authenticated; a request that did
// not come through ServeHTTP has none, and is refused.
func callerOf(r *http.Request) (directory.Account, directory.SCIMToken, error) {
	c, ok := r.Context().Value(callerKey{}).(*caller)
	if !ok {
		return directory.Account{}, directory.SCIMToken{}, errNoToken
	}
	return c.account, c.token, nil
}

// refuse hands a directory error back to the library from one of its
// handlers and keeps it for ServeHTTP, which answers it by its kind.
func refuse(r *http.Request, err error) error {
	if c, ok := r.Context().Value(callerKey{}).(*caller); ok {
		c.err = err
	}
	return err
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// recorder holds elimity's response so that it can be mended.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// mend sends elimity's response with what it leaves out: a Location header
// on 201 (RFC 7644 §3.3), and an absolute meta.location.
func (h *Handler) mend(w http.ResponseWriter, rec *recorder) {
	for k, v := range rec.header {
		if k != "Content-Type" && k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	body := rec.body.Bytes()
	var res map[string]any
	if len(body) > 0 && json.Unmarshal(body, &res) == nil {
		if meta, ok := res["meta"].(map[string]any); ok {
			if loc, ok := meta["location"].(string); ok && !strings.HasPrefix(loc, "http") {
				meta["location"] = h.base + "/" + strings.TrimPrefix(loc, "/")
				if status == http.StatusCreated {
					w.Header().Set("Location", meta["location"].(string))
				}
				if b, err := json.Marshal(res); err == nil {
					body = b
				}
			}
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// supportETags corrects the library's ServiceProviderConfig, which always
// says ETags are unsupported: admit sends meta.version and an ETag header,
// and honours If-Match on PUT and PATCH.
func supportETags(rec *recorder) {
	var cfg map[string]any
	if json.Unmarshal(rec.body.Bytes(), &cfg) != nil {
		return
	}
	cfg["etag"] = map[string]bool{"supported": true}
	if b, err := json.Marshal(cfg); err == nil {
		rec.body.Reset()
		rec.body.Write(b)
	}
}

// scimError is the SCIM error schema (RFC 7644 §3.12).
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, scimType, detail string) {
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "SCIM request failed", "path", r.URL.Path, "detail", detail)
	} else {
		h.log.InfoContext(r.Context(), "SCIM request refused", "path", r.URL.Path, "status", status, "detail", detail)
	}
	w.Header().Set("Content-Type", "application/scim+json")
	if status == http.StatusServiceUnavailable {
		// Entra ID and Okta retry a 503, after Retry-After.
		w.Header().Set("Retry-After", strconv.Itoa(directory.RetryAfter))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(scimError{
		Schemas: []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, Status: strconv.Itoa(status), ScimType: scimType, Detail: detail,
	})
}

// failWith maps a directory error to its SCIM error.
func (h *Handler) failWith(w http.ResponseWriter, r *http.Request, err error) {
	status, scimType := scimStatus(err)
	detail := directory.Message(err)
	if status > 500 {
		h.log.WarnContext(r.Context(), "SCIM request failed: directory unavailable", "err", err)
	} else if status >= 500 {
		h.log.ErrorContext(r.Context(), "SCIM request failed", "err", err)
	}
	h.fail(w, r, status, scimType, detail)
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
		// Okta) back off and retry on 429.
		return http.StatusTooManyRequests, ""
	case directory.Unavailable:
		return http.StatusServiceUnavailable, ""
	}
	return http.StatusInternalServerError, ""
}

var errNoToken = errors.New("no valid SCIM token")
