package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestSCIMStatus: each directory kind has its SCIM status, whatever the
// message says (a userName with "version" in it is still a uniqueness
// conflict).
func TestSCIMStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		scimType string
	}{
		{"not found", directory.NotFoundError("no user x"), http.StatusNotFound, ""},
		{"conflict", directory.ConflictError("a user with userName version.control@acme.example exists"), http.StatusConflict, "uniqueness"},
		{"conflict, wrapped", fmt.Errorf("create SCIM user: %w", directory.ConflictError("the version is taken")), http.StatusConflict, "uniqueness"},
		{"precondition failed", directory.PreconditionFailedError("the user changed since you read it"), http.StatusPreconditionFailed, ""},
		{"invalid", directory.InvalidError("userName is required"), http.StatusBadRequest, "invalidValue"},
		{"unauthenticated", directory.UnauthenticatedError("no token"), http.StatusUnauthorized, ""},
		{"forbidden", directory.ForbiddenError("no"), http.StatusForbidden, ""},
		{"gone", directory.GoneError("withdrawn"), http.StatusGone, ""},
		{"throttled", &directory.Error{Kind: directory.Throttled, Message: "slow down"}, http.StatusTooManyRequests, ""},
		{"unavailable", fmt.Errorf("create SCIM user: %w", directory.UnavailableError(errors.New("connection refused"))), http.StatusServiceUnavailable, ""},
		{"internal", errors.New("connection refused (version 15)"), http.StatusInternalServerError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, scimType := scimStatus(tc.err)
			if status != tc.status || scimType != tc.scimType {
				t.Errorf("scimStatus(%v) = %d %q; want %d %q", tc.err, status, scimType, tc.status, tc.scimType)
			}
		})
	}
}

// TestWriteError: every refusal is one SCIM error document with its
// status; throttling and unavailability tell the client when to come back,
// a missing token how to authenticate.
func TestWriteError(t *testing.T) {
	t.Parallel()
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		scimType string
		header   string
	}{
		{"throttled", &directory.Error{Kind: directory.Throttled, Message: "slow down"}, http.StatusTooManyRequests, "", "Retry-After"},
		{"unauthenticated", directory.UnauthenticatedError("no token"), http.StatusUnauthorized, "", "WWW-Authenticate"},
		{"protocol", invalidPath("no attribute x"), http.StatusBadRequest, "invalidPath", ""},
		{"protocol, wrapped", fmt.Errorf("operation 2: %w", invalidValue("bad")), http.StatusBadRequest, "invalidValue", ""},
		{"internal", errors.New("connection refused"), http.StatusInternalServerError, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.writeError(w, httptest.NewRequest("GET", "/scim/v2/Users", nil), tc.err)
			var body scimError
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if w.Code != tc.status || body.Status != fmt.Sprint(tc.status) || body.ScimType != tc.scimType || body.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("got %d %+v; want %d %q", w.Code, body, tc.status, tc.scimType)
			}
			if tc.header != "" && w.Header().Get(tc.header) == "" {
				t.Errorf("no %s header: %v", tc.header, w.Header())
			}
			if tc.status == 500 && strings.Contains(body.Detail, "refused") {
				t.Errorf("an internal error's text reached the client: %q", body.Detail)
			}
		})
	}
}
