package directory

import (
	"errors"
	"strings"
)

// Kind says what sort of failure an error is, so that each edge (HTTP page,
// SCIM, JSON API, CLI) can translate it in one place. Anything that is not
// one of the named kinds is Internal and its details never reach the caller.
type Kind int

const (
	Internal Kind = iota
	NotFound
	Conflict
	Invalid
	Forbidden
	Unauthenticated
	// Gone is something that existed and can no longer be used: an
	// invitation link that expired, was used or was withdrawn.
	Gone
	// Throttled is a refusal because of too many attempts; try later.
	Throttled
	// PreconditionFailed is a change made against a version of something
	// that is no longer the current one (an If-Match that no longer
	// matches): read it again and decide again.
	PreconditionFailed
	// Unavailable is a failure to reach the database (it is down,
	// restarting, or the connection broke before the change was
	// committed), or a replica too busy for the request just now (an
	// upload that found no turn to be read, bulk.Slots). Nothing was
	// written; the same request may succeed in a moment, so callers
	// answer 503 with Retry-After (RetryAfter).
	Unavailable
)

// RetryAfter is how long, in seconds, a caller refused with Unavailable is
// asked to wait before trying again (HTTP Retry-After). A PostgreSQL restart
// or failover takes a few seconds; identity providers retry on a 503 anyway.
const RetryAfter = 5

func (k Kind) String() string {
	switch k {
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case Invalid:
		return "invalid"
	case Forbidden:
		return "forbidden"
	case Unauthenticated:
		return "unauthenticated"
	case Gone:
		return "gone"
	case Throttled:
		return "throttled"
	case PreconditionFailed:
		return "precondition_failed"
	case Unavailable:
		return "unavailable"
	default:
		return "internal"
	}
}

// Error is a failure with a kind and a message that is safe to show to the
// person who caused it. Problems lists every separate reason when there are
// several (a password that breaks three rules names all three).
type Error struct {
	Kind     Kind
	Message  string
	Problems []string
	Err      error // the cause, for logs; never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newError(kind Kind, msg string) *Error { return &Error{Kind: kind, Message: msg} }

// NotFoundError, ConflictError and friends build kinded errors; the message is
// shown to the caller as is.
func NotFoundError(msg string) error  { return newError(NotFound, msg) }
func ConflictError(msg string) error  { return newError(Conflict, msg) }
func ForbiddenError(msg string) error { return newError(Forbidden, msg) }
func UnauthenticatedError(msg string) error {
	return newError(Unauthenticated, msg)
}
func GoneError(msg string) error { return newError(Gone, msg) }
func PreconditionFailedError(msg string) error {
	return newError(PreconditionFailed, msg)
}

// UnavailableError reports that the database could not be reached; err is
// the driver's error, for logs.
func UnavailableError(err error) error {
	return &Error{Kind: Unavailable, Message: "the directory is unavailable for a moment; please try again shortly", Err: err}
}

// InvalidError reports bad input; with several problems the message lists them all.
func InvalidError(problems ...string) error {
	return &Error{Kind: Invalid, Message: strings.Join(problems, "; "), Problems: problems}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns the user-safe message of err: the kinded error's message,
// or a generic sentence for internal errors, whose details belong in logs only.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Message
	}
	return "something went wrong on our side; please try again"
}

// ProblemsOf returns the separate reasons of an Invalid error (one entry when
// the error has a single message).
func ProblemsOf(err error) []string {
	var e *Error
	if !errors.As(err, &e) || e.Kind == Internal {
		return nil
	}
	if len(e.Problems) > 0 {
		return e.Problems
	}
	return []string{e.Message}
}
