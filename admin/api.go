package admin

// The JSON API /api/v1: what the console does, for programs. A request
// carries an API key (Authorization: Bearer admit_ak_...); an account's key
// acts as an admin of that account, an operator key creates accounts and
// acts on any. Every change goes through directory.Service with the key as
// the audited actor, under the console's rules (directory.KeyAdmin). An
// account a key may not reach, and anything of it named by id, is 404.
//
// Errors are RFC 9457 problem details (apiError maps the directory's kinds
// in one place); lists are keyset-paged with a "next" cursor; a POST with an
// Idempotency-Key is run once and its response replayed for 24 hours. The
// routes are the table in routes, which openapi.json documents (a test holds
// the two together).

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

//go:embed openapi.json
var openAPIDocument []byte

// MaxAPIBody bounds a request body: the largest legitimate one (a member
// with a password) is well under a kilobyte.
const MaxAPIBody = 64 << 10

// APIConfig configures the JSON API.
type APIConfig struct {
	Directory *directory.Service
	// Imports reads uploaded spreadsheets (bulk.Spreadsheets); without it
	// an upload is 501.
	Imports SpreadsheetReader
	// Secrets seals the signing secrets of the webhooks it adds and
	// rotates (events.Secrets); without it those answer 501.
	Secrets WebhookSecrets
	// Sender sends test events (events.Worker); without it those answer
	// 501.
	Sender WebhookSender
	Logger *slog.Logger
}

// API serves /api/v1.
type API struct {
	dir     *directory.Service
	sheets  SpreadsheetReader
	secrets WebhookSecrets
	sender  WebhookSender
	log     *slog.Logger

	deleteBudget time.Duration // see deleteAccountBudget
}

// NewAPI returns the JSON API over cfg.Directory.
func NewAPI(cfg APIConfig) *API {
	a := &API{dir: cfg.Directory, sheets: cfg.Imports, secrets: cfg.Secrets, sender: cfg.Sender, log: cfg.Logger, deleteBudget: deleteAccountBudget}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a
}

// apiFunc handles one request made with key; it writes the response, or
// returns an error that serve turns into a problem.
type apiFunc func(w http.ResponseWriter, r *http.Request, key directory.APIKey) error

// route is one operation of the API: its pattern, as the mux and the
// OpenAPI document name it, and its handler.
type route struct {
	method, path string
	handle       func(*API, http.ResponseWriter, *http.Request, directory.APIKey) error
}

// routes is every operation but the document itself. Paths are OpenAPI's
// ({name} parameters), which Go's ServeMux patterns also are.
var routes = []route{
	{"GET", "/api/v1/accounts", (*API).listAccounts},
	{"POST", "/api/v1/accounts", (*API).createAccount},
	{"GET", "/api/v1/accounts/{account}", (*API).getAccount},
	{"DELETE", "/api/v1/accounts/{account}", (*API).deleteAccount},
	{"DELETE", "/api/v1/users/{user}", (*API).erasePerson},
	{"GET", "/api/v1/accounts/{account}/members", (*API).listMembers},
	{"POST", "/api/v1/accounts/{account}/members", (*API).addMember},
	{"GET", "/api/v1/accounts/{account}/members/{id}", (*API).getMember},
	{"PATCH", "/api/v1/accounts/{account}/members/{id}", (*API).changeMember},
	{"DELETE", "/api/v1/accounts/{account}/members/{id}", (*API).removeMember},
	{"POST", "/api/v1/accounts/{account}/members/{id}/deactivate", (*API).deactivateMember},
	{"POST", "/api/v1/accounts/{account}/members/{id}/reactivate", (*API).reactivateMember},
	{"POST", "/api/v1/accounts/{account}/members/{id}/sign-out", (*API).signOutMember},
	{"POST", "/api/v1/accounts/{account}/members/{id}/resend-invitation", (*API).resendMemberInvitation},
	{"POST", "/api/v1/accounts/{account}/members/{id}/send-reset-link", (*API).sendResetLink},
	{"GET", "/api/v1/accounts/{account}/invitations", (*API).listInvitations},
	{"POST", "/api/v1/accounts/{account}/invitations", (*API).createInvitation},
	{"POST", "/api/v1/accounts/{account}/invitations/{id}/resend", (*API).resendInvitation},
	{"DELETE", "/api/v1/accounts/{account}/invitations/{id}", (*API).revokeInvitation},
	{"GET", "/api/v1/accounts/{account}/roles", (*API).listRoles},
	{"GET", "/api/v1/accounts/{account}/audit-events", (*API).listAuditEvents},
	{"GET", "/api/v1/accounts/{account}/scim-tokens", (*API).listSCIMTokens},
	{"POST", "/api/v1/accounts/{account}/scim-tokens", (*API).createSCIMToken},
	{"DELETE", "/api/v1/accounts/{account}/scim-tokens/{id}", (*API).revokeSCIMToken},
	{"GET", "/api/v1/accounts/{account}/domains", (*API).listDomains},
	{"POST", "/api/v1/accounts/{account}/domains", (*API).addDomain},
	{"POST", "/api/v1/accounts/{account}/domains/{domain}/verify", (*API).verifyDomain},
	{"DELETE", "/api/v1/accounts/{account}/domains/{domain}", (*API).removeDomain},
	{"GET", importsPath, (*API).listImports},
	{"POST", importsPath, (*API).createImport},
	{"GET", importsPath + "/{id}", (*API).getImport},
	{"GET", importsPath + "/{id}/report", (*API).getImportReport},
	{"POST", importsPath + "/{id}/cancel", (*API).cancelImport},
	{"GET", webhooksPath, (*API).listWebhooks},
	{"POST", webhooksPath, (*API).addWebhook},
	{"GET", webhooksPath + "/{id}", (*API).getWebhook},
	{"DELETE", webhooksPath + "/{id}", (*API).removeWebhook},
	{"POST", webhooksPath + "/{id}/rotate-secret", (*API).rotateWebhookSecret},
	{"POST", webhooksPath + "/{id}/enable", (*API).enableWebhook},
	{"POST", webhooksPath + "/{id}/test", (*API).testWebhook},
	{"GET", webhooksPath + "/{id}/tests", (*API).listWebhookTests},
	{"GET", webhooksPath + "/{id}/deliveries", (*API).listWebhookDeliveries},
	{"POST", webhooksPath + "/{id}/deliveries/{delivery}/redeliver", (*API).redeliverWebhook},
	{"POST", webhooksPath + "/{id}/recover", (*API).recoverWebhook},
	{"GET", "/api/v1/events", (*API).listEvents},
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPIDocument)
	})
	for _, rt := range routes {
		handle := rt.handle
		limit := int64(MaxAPIBody)
		if rt.method == http.MethodPost && rt.path == importsPath {
			limit = a.uploadLimit()
		}
		mux.Handle(rt.method+" "+rt.path, a.serve(limit, func(w http.ResponseWriter, r *http.Request, k directory.APIKey) error { return handle(a, w, r, k) }))
	}
	// Anything else under /api/v1 is a problem, not the HTML 404 page.
	mux.Handle("/api/v1/", a.serve(MaxAPIBody, func(http.ResponseWriter, *http.Request, directory.APIKey) error {
		return directory.NotFoundError("There is no such operation; see /api/v1/openapi.json.")
	}))
}

// serve authenticates the request, runs fn (through the idempotency
// record when a POST carries a key), and answers an error as a problem.
// The body is bounded by maxBody.
func (a *API) serve(maxBody int64, fn apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		key, err := a.authenticate(r)
		if err == nil {
			if idem := r.Header.Get("Idempotency-Key"); idem != "" && r.Method == http.MethodPost {
				err = a.idempotent(w, r, key, idem, fn)
			} else {
				err = fn(w, r, key)
			}
		}
		if err != nil {
			a.writeProblem(w, r, err)
		}
	})
}

// authenticate finds the request's API key. Cookies are not looked at: a
// signed-in person's browser carries no power here (no CSRF to guard).
func (a *API) authenticate(r *http.Request) (directory.APIKey, error) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return directory.APIKey{}, directory.UnauthenticatedError("Send an API key: Authorization: Bearer admit_ak_...")
	}
	return a.dir.AuthenticateAPIKey(r.Context(), strings.TrimSpace(token))
}

// recorder keeps a response so that it can be stored for retries.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	// secret, when not empty, says the response holds a secret shown once
	// (a SCIM token, a webhook's signing secret): it is not kept for
	// retries (rule 5: secrets are stored as hashes), which get this
	// instead: how to find what the request made, and get a new secret.
	secret string
	// changedNothing says the request wrote nothing (a dry run), so that
	// sending it again is safe: a large answer is not kept (maxKeptResponse).
	changedNothing bool
}

// shownOnce marks w's response as holding a secret shown once, so that an
// Idempotency-Key does not keep it: a retry is told so instead (409), and
// then find, which says how a client that lost the answer finds what the
// request made and gets a new secret (what it is found by differs: a SCIM
// token has a name, a webhook only its URL).
func shownOnce(w http.ResponseWriter, find string) {
	if rec, ok := w.(*recorder); ok {
		rec.secret = find
	}
}

// changesNothing marks w's response as that of a request that wrote
// nothing, which a client may send again with a new Idempotency-Key: an
// answer larger than maxKeptResponse is then not kept, and a retry is told
// so (409). The answer of a request that wrote is kept whatever its size,
// so that a retry never does the work twice.
func changesNothing(w http.ResponseWriter) {
	if rec, ok := w.(*recorder); ok {
		rec.changedNothing = true
	}
}

func (rec *recorder) Header() http.Header { return rec.header }
func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}
func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}

// storedResponse is a response as an idempotency record keeps it.
type storedResponse struct {
	ContentType string `json:"content_type"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body"` // byte for byte (a RawMessage would be compacted)
}

// maxKeptResponse bounds the answers an Idempotency-Key keeps for retries.
const maxKeptResponse = 1 << 20

// idempotent runs a POST with an Idempotency-Key once (draft-ietf-httpapi-
// idempotency-key-header): a retry with the same body gets the stored
// response, one with another body 422, one while the first still runs 409.
// A response of admit's own failure (5xx) is not kept, so a retry runs again.
func (a *API) idempotent(w http.ResponseWriter, r *http.Request, key directory.APIKey, idem string, fn apiFunc) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	state, rec, err := a.dir.BeginIdempotent(r.Context(), key, idem, idempotencyRequest(r.Method, r.URL.RequestURI(), body))
	if err != nil {
		return err
	}
	switch state {
	case directory.IdempotencyMismatch:
		return problem{status: http.StatusUnprocessableEntity, title: "Idempotency-Key reused", code: "idempotency_key_reused",
			detail: "This Idempotency-Key was used for a different request; use a new key for a new request."}
	case directory.IdempotencyRunning:
		return problem{status: http.StatusConflict, title: "Request in progress", code: "idempotency_key_in_use",
			detail: "A request with this Idempotency-Key is still being processed; retry later."}
	case directory.IdempotencyReplay:
		var sr storedResponse
		if err := json.Unmarshal(rec.Response, &sr); err != nil {
			return fmt.Errorf("read stored response: %w", err)
		}
		w.Header().Set("Content-Type", sr.ContentType)
		if sr.Location != "" {
			w.Header().Set("Location", sr.Location)
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(rec.Status)
		_, _ = w.Write(sr.Body)
		return nil
	}
	out := &recorder{header: http.Header{}}
	if err := fn(out, r, key); err != nil {
		a.writeProblem(out, r, err)
	}
	if out.status == 0 {
		out.status = http.StatusOK
	}
	if out.status >= 500 {
		// Released on a context of its own: the request's may be done.
		if err := a.dir.ReleaseIdempotent(context.WithoutCancel(r.Context()), rec); err != nil {
			a.log.ErrorContext(r.Context(), "release idempotency key", "err", err)
		}
	} else {
		keep := storedResponse{ContentType: out.header.Get("Content-Type"), Location: out.header.Get("Location"), Body: out.body.Bytes()}
		status := out.status
		if out.secret != "" {
			// What a retry gets instead of the secret.
			status = http.StatusConflict
			body, _ := json.Marshal(struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
				Code   string `json:"code"`
			}{"about:blank", "Shown once", http.StatusConflict, "This request succeeded, and its answer held a secret that admit shows once and does not keep. " + out.secret, "shown_once"})
			keep = storedResponse{ContentType: "application/problem+json", Body: append(body, '\n')}
		} else if out.changedNothing && out.body.Len() > maxKeptResponse {
			// A dry run of a large spreadsheet answers every row: kept, it
			// would be every row's address and name in the database for a
			// day, and loaded again by each retry. A dry run writes
			// nothing, so sending it again is safe.
			status = http.StatusConflict
			keep = storedResponse{ContentType: "application/problem+json", Body: []byte(`{"type":"about:blank","title":"Answer not kept","status":409,` +
				`"detail":"This request succeeded, and its answer was too large to keep for retries. Send the request again with a new Idempotency-Key (a dry run writes nothing), or ask for less (a dry run takes rows=problems).","code":"not_kept"}` + "\n")}
		}
		stored, _ := json.Marshal(keep)
		if err := a.dir.FinishIdempotent(context.WithoutCancel(r.Context()), rec, status, stored); err != nil {
			a.log.ErrorContext(r.Context(), "store idempotent response", "err", err)
		}
	}
	for k, v := range out.header {
		w.Header()[k] = v
	}
	w.WriteHeader(out.status)
	_, _ = w.Write(out.body.Bytes())
	return nil
}

// idempotencyRequest is what a retry must repeat: the method, the path with
// its query (a form value may come from either), and the body.
func idempotencyRequest(method, path string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte(method + " " + path + "\n" + hex.EncodeToString(sum[:]))
}

// problem is an RFC 9457 problem detail.
type problem struct {
	status int
	title  string
	detail string
	code   string   // the directory's kind, or a name of the API's own
	errors []string // every reason, when there are several
}

func (p problem) Error() string { return p.detail }

// notImplemented answers a request for what this server was built
// without (a spreadsheet reader, a sealer, a sender).
func notImplemented(detail string) problem {
	return problem{status: http.StatusNotImplemented, title: http.StatusText(http.StatusNotImplemented), code: "not_implemented", detail: detail}
}

// problemOf is the one translation of an error into a problem.
func problemOf(err error) problem {
	var p problem
	if errors.As(err, &p) {
		return p
	}
	kind := directory.KindOf(err)
	status := map[directory.Kind]int{
		directory.NotFound:           http.StatusNotFound,
		directory.Conflict:           http.StatusConflict,
		directory.Invalid:            http.StatusBadRequest,
		directory.Forbidden:          http.StatusForbidden,
		directory.Unauthenticated:    http.StatusUnauthorized,
		directory.Gone:               http.StatusGone,
		directory.Throttled:          http.StatusTooManyRequests,
		directory.PreconditionFailed: http.StatusPreconditionFailed,
		directory.Unavailable:        http.StatusServiceUnavailable,
	}[kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	p = problem{status: status, title: http.StatusText(status), detail: directory.Message(err), code: kind.String()}
	if kind == directory.Invalid {
		p.errors = directory.ProblemsOf(err)
	}
	return p
}

// writeProblem answers err as application/problem+json and logs it once:
// 5xx as errors (with the cause), the rest as information.
func (a *API) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.status >= 500 {
		a.log.ErrorContext(r.Context(), "api", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		a.log.InfoContext(r.Context(), "api refused", "method", r.Method, "path", r.URL.Path, "status", p.status, "err", err)
	}
	if p.status == http.StatusServiceUnavailable {
		web.SetRetryAfter(w)
	}
	if p.status == http.StatusUnauthorized {
		// RFC 6750 section 3.
		w.Header().Set("WWW-Authenticate", `Bearer realm="admit", error="invalid_token"`)
	}
	body := map[string]any{"type": "about:blank", "title": p.title, "status": p.status, "detail": p.detail, "code": p.code}
	if len(p.errors) > 0 {
		body["errors"] = p.errors
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// bodyError is a body too large or unreadable, as a problem.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return problem{status: http.StatusRequestEntityTooLarge, title: http.StatusText(http.StatusRequestEntityTooLarge), code: "too_large",
			detail: fmt.Sprintf("The request body is larger than %d bytes.", tooBig.Limit)}
	}
	return problem{status: http.StatusBadRequest, title: http.StatusText(http.StatusBadRequest), code: "invalid", detail: "The request body could not be read."}
}

// decode reads the request's JSON body into v: one object, no field v
// does not have, nothing after it. An empty body is an empty object.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return problem{status: http.StatusUnsupportedMediaType, title: http.StatusText(http.StatusUnsupportedMediaType), code: "unsupported_media_type",
				detail: "Send the body as application/json."}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	return decodeJSON(body, v)
}

// decodeJSON is decode's parser, on bytes (fuzzed).
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	invalid := func(msg string) error {
		return problem{status: http.StatusBadRequest, title: http.StatusText(http.StatusBadRequest), code: "invalid", detail: msg, errors: []string{msg}}
	}
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return invalid(fmt.Sprintf("The body is not valid JSON (at byte %d).", syntax.Offset))
		case errors.As(err, &typ) && typ.Field != "":
			return invalid(fmt.Sprintf("The field %q must be %s.", typ.Field, jsonKind(typ.Type.Kind().String())))
		case errors.As(err, &typ):
			return invalid("The body must be a JSON object.")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return invalid(fmt.Sprintf("The body has a field the operation does not take: %s.", strings.TrimPrefix(err.Error(), "json: unknown field ")))
		default:
			return invalid("The body is not valid JSON.")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("The body has something after its JSON object.")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64":
		return "a number"
	case "slice":
		return "an array"
	default:
		return "an object"
	}
}
