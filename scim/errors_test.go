package scim

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestSCIMStatus: each directory kind has its SCIM status, whatever the
// message says (a userName with "version" in it is still a uniqueness
// conflict).
func TestSCIMStatus(t *testing.T) {
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
