package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/admit-dev/admit/directory"
)

// deleteAccountBudget is how long one DELETE of an account works before it
// answers 202 with its progress: an account of 100,000 members takes
// minutes, longer than a request should, and the deletion resumes where
// the next DELETE finds it.
const deleteAccountBudget = 20 * time.Second

// errBudgetSpent stops a deletion at the end of a request's budget.
var errBudgetSpent = errors.New("the request's time is up")

// deleteAccount deletes the account (operator keys only): 200 with what
// was done when it finished, 202 with the progress when the request's
// time ran out first (DELETE again to go on; the account is hidden from
// everything meanwhile).
func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	if !key.Operator() {
		return directory.ForbiddenError("Only an operator key deletes accounts.")
	}
	start := time.Now()
	d, err := a.dir.DeleteAccount(context.WithoutCancel(r.Context()), key.Actor(), r.PathValue("account"), 0, func(directory.AccountDeletion) error {
		if time.Since(start) > a.deleteBudget || r.Context().Err() != nil {
			return errBudgetSpent
		}
		return nil
	})
	switch {
	case errors.Is(err, errBudgetSpent):
		return writeJSON(w, http.StatusAccepted, d)
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

// erasePerson erases a person (operator keys only): {user} is their user
// id (as events carry it) or their email. ?orphan_ok=true erases the last
// active owner of an account too (409 without it).
func (a *API) erasePerson(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	if !key.Operator() {
		return directory.ForbiddenError("Only an operator key erases people.")
	}
	var opts directory.EraseOptions
	if v := r.URL.Query().Get("orphan_ok"); v != "" || r.URL.Query().Has("orphan_ok") {
		ok, err := strconv.ParseBool(v)
		if err != nil {
			return directory.InvalidError("orphan_ok is true or false")
		}
		opts.OrphanOK = ok
	}
	e, err := a.dir.ErasePerson(r.Context(), key.Actor(), r.PathValue("user"), opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}
