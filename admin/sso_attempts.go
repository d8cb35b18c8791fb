package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/admit-dev/admit/directory"
)

// attemptRow is one entry of a connection's login log, for the page.
type attemptRow struct {
	directory.LoginAttempt
	Detail string // indented JSON
}

func attemptRows(all []directory.LoginAttempt, limit int) []attemptRow {
	slices.SortFunc(all, func(a, b directory.LoginAttempt) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if len(all) > limit {
		all = all[:limit]
	}
	out := make([]attemptRow, len(all))
	for i, a := range all {
		out[i] = attemptRow{LoginAttempt: a, Detail: indent(a.Detail)}
	}
	return out
}

func indent(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// attemptsShown is how many of each class of the login log the Attempts
// page shows (as admit sso attempts does by default).
const attemptsShown = 50

func (h *Handler) handleAttempts(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	c, err := h.connectionNamed(ctx, v, r.PathValue("name"))
	if err != nil {
		return err
	}
	all, err := h.dir.LoginAttempts(ctx, v.Admin.Account.ID, c.ID, attemptsShown)
	if err != nil {
		return err
	}
	v.Page = struct {
		Conn     directory.Connection
		Path     string
		Attempts []attemptRow
	}{c, h.connectionPath(v, c), attemptRows(all, 2*attemptsShown)}
	h.render(w, r, http.StatusOK, "sso_attempts", "Sign-in attempts of "+c.Name, v)
	return nil
}

// testDetail is what the login log keeps of a Test sign-in (package sso's
// attempt): what arrived and what the directory would have done.
type testDetail struct {
	Subject  string              `json:"subject"`
	Claims   map[string][]string `json:"claims"`
	Identity *struct {
		Email, FirstName, LastName, DisplayName string
		Groups                                  []string
	} `json:"identity"`
	Role     directory.Role `json:"role"`
	RoleFrom string         `json:"role_from"`
	Test     bool           `json:"test"`
}

type claimRow struct {
	Name   string
	Values string
}

func (h *Handler) handleTestResult(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	c, err := h.connectionNamed(ctx, v, r.PathValue("name"))
	if err != nil {
		return err
	}
	all, err := h.dir.LoginAttempts(ctx, v.Admin.Account.ID, c.ID, directory.LoginLogSize)
	if err != nil {
		return err
	}
	ref := r.URL.Query().Get("ref")
	i := slices.IndexFunc(all, func(a directory.LoginAttempt) bool { return ref != "" && a.Reference == ref })
	if i < 0 {
		return directory.NotFoundError("There is no test result with this reference. Run Test sign-in again from the connection's page.")
	}
	at := all[i]
	var d testDetail
	_ = json.Unmarshal(at.Detail, &d) // what could not be read is shown raw below
	if !d.Test {
		return directory.NotFoundError("This reference is not of a Test sign-in: see the sign-in attempts.")
	}
	var claims []claimRow
	for name, values := range d.Claims {
		claims = append(claims, claimRow{name, strings.Join(values, ", ")})
	}
	slices.SortFunc(claims, func(a, b claimRow) int { return strings.Compare(a.Name, b.Name) })
	v.Page = struct {
		Conn     directory.Connection
		Path     string
		Attempt  directory.LoginAttempt
		Detail   testDetail
		Claims   []claimRow
		Accepted bool
		Raw      string
		Would    string
	}{c, h.connectionPath(v, c), at, d, claims, at.Outcome == "tested", indent(at.Detail), wouldDo[at.Reason]}
	h.render(w, r, http.StatusOK, "sso_test", "Test sign-in of "+c.Name, v)
	return nil
}

// wouldDo words what a login would have done (directory.SSOSignIn's Outcome).
var wouldDo = map[string]string{
	"created user":         "A real sign-in would create this person and make them a member of this account.",
	"added membership":     "A real sign-in would make this person, who already has a user in admit, a member of this account.",
	"activated invitation": "A real sign-in would accept this person's open invitation.",
	"updated":              "A real sign-in would sign this member in and update their name, groups or role as shown.",
	"signed in":            "A real sign-in would sign this member in; nothing about them would change.",
}
