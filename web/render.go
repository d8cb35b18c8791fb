package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/admit-dev/admit/directory"
)

//go:embed templates
var templates embed.FS

// Branding is how a page looks for the account it belongs to. The zero
// value is admit's own neutral look.
type Branding struct {
	Name         string // shown in the header and the title; "admit" when empty
	LogoURL      string // https, or the path of an uploaded logo (directory.ValidLogoSource)
	PrimaryColor string // #rgb or #rrggbb
}

// Page is what a page template is executed with. The page's own values go
// in Data; Render fills in the rest.
type Page struct {
	Title    string
	Branding Branding
	Data     any
	// FormTargets are origins (https://idp.example.com) the page's forms
	// may lead to besides admit: a browser applies the CSP's form-action
	// to the redirects that follow a form, so a form answered by a
	// redirect to an identity provider needs the provider's origin here.
	FormTargets []string
	// Frames lets the page show admit's own pages in iframes (frame-src
	// 'self'): the Branding page's previews.
	Frames bool
	// Wide gives the page the width of a table rather than of a form
	// (the admin console).
	Wide bool

	CSRFToken string // for forms: <input type=hidden name=csrf_token value="{{.CSRFToken}}">
	Nonce     string // the CSP nonce of this response
	RequestID string // the reference shown on error pages
	Colors    Colors // the brand colour and the readable shades around it
}

// Config configures a Renderer.
type Config struct {
	// Key signs CSRF tokens; at least 32 bytes, derived from the server key.
	Key []byte
	// AcceptedKeys, during a rotation of the server key, are the other
	// keys' (ADMIT_SECRET_KEY_PREVIOUS, ADMIT_SECRET_KEY_NEXT): tokens they
	// signed are accepted, none is signed with them.
	AcceptedKeys [][]byte
	// Secure is true when admit is served over HTTPS: cookies are then
	// Secure and carry the __Host- prefix.
	Secure bool
	Logger *slog.Logger
}

// Renderer renders pages on the shared layout and writes error pages.
type Renderer struct {
	csrf      csrf
	log       *slog.Logger
	errorPage *template.Template
	homePage  *template.Template
}

// NewRenderer parses the shared templates.
func NewRenderer(cfg Config) (*Renderer, error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("web: the CSRF key must be at least 32 bytes")
	}
	rd := &Renderer{csrf: newCSRF(cfg.Key, cfg.AcceptedKeys, cfg.Secure), log: cfg.Logger}
	if rd.log == nil {
		rd.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if rd.errorPage, err = ParsePage(templates, "templates/error.html"); err != nil {
		return nil, err
	}
	if rd.homePage, err = ParsePage(templates, "templates/home.html"); err != nil {
		return nil, err
	}
	return rd, nil
}

// ParsePage returns the shared layout with the page's own templates parsed
// on top. The page's files define "content", and may define "title".
func ParsePage(fsys fs.FS, patterns ...string) (*template.Template, error) {
	t, err := template.New("layout.html").ParseFS(templates, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	return t.ParseFS(fsys, patterns...)
}

// ParseConsolePage is ParsePage for a page of an account's console, with
// the console's navigation ("console-nav") that the packages serving its
// pages (admin, bulk) share: one list of the console's sections, so that
// no page's navigation lacks one.
func ParseConsolePage(fsys fs.FS, patterns ...string) (*template.Template, error) {
	t, err := template.New("layout.html").ParseFS(templates, "templates/layout.html", "templates/console_nav.html")
	if err != nil {
		return nil, err
	}
	return t.ParseFS(fsys, patterns...)
}

// Render executes t into a buffer and sends it with status. A template that
// fails midway sends the error page instead, never half a page.
func (rd *Renderer) Render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, p Page) {
	p.Nonce = newNonce()
	p.RequestID = RequestIDFrom(r.Context())
	p.CSRFToken = rd.CSRFToken(w, r)
	p.Branding = safeBranding(p.Branding)
	p.Colors = colorsOf(directory.Branding{PrimaryColor: p.Branding.PrimaryColor}.Palette())
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		rd.log.ErrorContext(r.Context(), "render page", "template", t.Name(), "err", err)
		if t != rd.errorPage {
			rd.Error(w, r, http.StatusInternalServerError, directory.Message(err))
		} else {
			http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	policy := csp(p.Nonce, p.FormTargets...)
	if p.Frames {
		policy += "; frame-src 'self'"
	}
	h.Set("Content-Security-Policy", policy)
	h.Set("Cache-Control", "no-store")
	// The length lets a handler answer first and work after (Answered):
	// without it the response is chunked and ends only with the handler.
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Colors are an account's palette (directory.Palette) as CSS values.
type Colors struct{ Fill, OnFill, Text template.CSS }

// colorsOf is safe as CSS: a palette holds only #rrggbb colours.
func colorsOf(p directory.Palette) Colors {
	return Colors{template.CSS(p.Fill), template.CSS(p.OnFill), template.CSS(p.Text)}
}

// Answered sends what was rendered to the client now, so that what the
// handler does afterwards does not show in the answer's timing (work done
// for a known address only, which would tell that it is known).
func Answered(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
}

// safeBranding drops any branding value that could carry markup or CSS.
func safeBranding(b Branding) Branding {
	if !directory.ValidLogoSource(b.LogoURL) {
		b.LogoURL = ""
	}
	if len(directory.Branding{PrimaryColor: b.PrimaryColor}.Validate()) > 0 {
		b.PrimaryColor = ""
	}
	return b
}

// newNonce uses URL-safe base64, which CSP accepts and which needs no
// escaping in an HTML attribute.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type errorData struct {
	Status   int
	Heading  string
	Message  string
	Problems []string
}

// Error sends a readable error page: what happened, and a reference to
// quote to support.
func (rd *Renderer) Error(w http.ResponseWriter, r *http.Request, status int, message string) {
	rd.errorWithProblems(w, r, status, message, nil)
}

func (rd *Renderer) errorWithProblems(w http.ResponseWriter, r *http.Request, status int, message string, problems []string) {
	rd.errorPageOf(w, r, status, heading(status), message, problems)
}

func (rd *Renderer) errorPageOf(w http.ResponseWriter, r *http.Request, status int, head, message string, problems []string) {
	rd.Render(w, r, status, rd.errorPage, Page{
		Title: http.StatusText(status),
		Data:  errorData{Status: status, Heading: head, Message: message, Problems: problems},
	})
}

// headedError is an error whose page names what happened better than its
// status does.
type headedError struct {
	heading string
	err     error
}

func (e headedError) Error() string { return e.err.Error() }
func (e headedError) Unwrap() error { return e.err }

// WithHeading gives the page of err the heading head instead of its
// status's, where that would misname what happened: a sign-in link of an
// account with no single sign-on is a 404, but not "Page not found". The
// status and message stay err's.
func WithHeading(head string, err error) error { return headedError{head, err} }

func heading(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusBadRequest:
		return "Please check what you entered"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusUnauthorized:
		return "Please sign in"
	case http.StatusConflict:
		return "That already exists"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusGone:
		return "This link no longer works"
	case http.StatusServiceUnavailable:
		return "Back in a moment"
	default:
		if status >= 500 {
			return "Something went wrong"
		}
		return http.StatusText(status)
	}
}

// HandlerFunc is a page handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler adapts fn: an error becomes the error page for its kind, logged
// once here (client mistakes at info, our failures at error). Internal
// error text never reaches the page.
func (rd *Renderer) Handler(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err == nil {
			return
		}
		status := StatusOf(err)
		switch {
		case status == http.StatusServiceUnavailable:
			// Every request fails alike while the database is away:
			// a warning each, not an error each.
			SetRetryAfter(w)
			rd.log.WarnContext(r.Context(), "request refused: directory unavailable", "path", SafePath(r), "err", err)
		case status >= 500:
			rd.log.ErrorContext(r.Context(), "request failed", "path", SafePath(r), "err", err)
		default:
			rd.log.InfoContext(r.Context(), "request refused", "path", SafePath(r), "status", status, "err", err)
		}
		var problems []string
		if directory.KindOf(err) == directory.Invalid && len(directory.ProblemsOf(err)) > 1 {
			problems = directory.ProblemsOf(err)
		}
		head := heading(status)
		if h := (headedError{}); errors.As(err, &h) {
			head = h.heading
		}
		rd.errorPageOf(w, r, status, head, directory.Message(err), problems)
	})
}

// StatusOf maps an error's kind to its HTTP status.
func StatusOf(err error) int {
	switch directory.KindOf(err) {
	case directory.NotFound:
		return http.StatusNotFound
	case directory.Conflict:
		return http.StatusConflict
	case directory.Invalid:
		return http.StatusBadRequest
	case directory.Forbidden:
		return http.StatusForbidden
	case directory.Unauthenticated:
		return http.StatusUnauthorized
	case directory.Gone:
		return http.StatusGone
	case directory.Throttled:
		return http.StatusTooManyRequests
	case directory.PreconditionFailed:
		return http.StatusPreconditionFailed
	case directory.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// SetRetryAfter tells the client of a 503 when to try again (RFC 9110
// §10.2.3): the database is restarting or out of reach for a moment.
func SetRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(directory.RetryAfter))
}

// Home serves the signed-out home page.
func (rd *Renderer) Home() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.Render(w, r, http.StatusOK, rd.homePage, Page{Title: "Welcome"})
	})
}
