package invite

import (
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

//go:embed templates
var templates embed.FS

// Handler serves the invitation pages.
type Handler struct {
	dir      *directory.Service
	pages    *web.Renderer
	log      *slog.Logger
	session  web.SessionCookie
	accept   *template.Template
	accepted *template.Template
}

// Config is what the invitation pages are built from.
type Config struct {
	Directory *directory.Service
	Pages     *web.Renderer
	// Secure marks the session cookie an acceptance sets Secure, with the
	// __Host- prefix, as the sign-in pages do.
	Secure bool
	Logger *slog.Logger
}

// New returns the invitation pages.
func New(cfg Config) (*Handler, error) {
	dir, pages, log := cfg.Directory, cfg.Pages, cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	accept, err := web.ParsePage(templates, "templates/accept.html")
	if err != nil {
		return nil, err
	}
	accepted, err := web.ParsePage(templates, "templates/accepted.html")
	if err != nil {
		return nil, err
	}
	return &Handler{dir: dir, pages: pages, log: log, session: web.SessionCookie{Secure: cfg.Secure}, accept: accept, accepted: accepted}, nil
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /invite/{token}", h.pages.Handler(h.handleShow))
	mux.Handle("POST /invite/{token}", h.pages.Protect(h.pages.Handler(h.handleAccept)))
}

// form is what the accept page shows.
type form struct {
	AccountName string
	Email       string
	Action      string
	HasPassword bool
	FirstName   string
	LastName    string
	Policy      directory.PasswordPolicy
	Rules       []string
	Problems    []string
}

func branding(a directory.Account) web.Branding {
	return web.Branding{Name: a.Title(), LogoURL: a.LogoSource(), PrimaryColor: a.Branding.PrimaryColor}
}

func (h *Handler) handleShow(w http.ResponseWriter, r *http.Request) error {
	link, err := h.dir.OpenInvitationLink(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, link, link.FirstName, link.LastName, nil)
	return nil
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, link directory.InvitationLink, first, last string, problems []string) {
	h.pages.Render(w, r, status, h.accept, web.Page{
		Title:    "Join " + link.Account.Title(),
		Branding: branding(link.Account),
		Data: form{
			AccountName: link.Account.Title(), Email: link.Invitation.Email, Action: r.URL.Path,
			HasPassword: link.HasPassword, FirstName: first, LastName: last,
			Policy: link.Policy, Rules: link.Policy.Rules(), Problems: problems,
		},
	})
}

func (h *Handler) handleAccept(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	link, err := h.dir.OpenInvitationLink(r.Context(), token)
	if err != nil {
		return err
	}
	in := directory.Acceptance{
		FirstName: r.PostFormValue("first_name"),
		LastName:  r.PostFormValue("last_name"),
		Password:  r.PostFormValue("password"),
	}
	if !link.HasPassword && in.Password != r.PostFormValue("confirm") {
		h.render(w, r, http.StatusBadRequest, link, in.FirstName, in.LastName, []string{"the two passwords are not the same"})
		return nil
	}
	m, err := h.dir.AcceptInvitation(r.Context(), token, in)
	switch directory.KindOf(err) {
	case directory.Internal:
		if err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
	case directory.Invalid, directory.Unauthenticated, directory.Throttled:
		// Show the form again with what was typed (never the password).
		status := web.StatusOf(err)
		h.render(w, r, status, link, in.FirstName, in.LastName, directory.ProblemsOf(err))
		return nil
	default:
		return err
	}
	h.log.InfoContext(r.Context(), "invitation accepted", "account_id", link.Account.ID, "user_id", m.User.ID)
	// The person just proved who they are (the emailed link, and the
	// password they chose or typed): they are signed in, as a sign-in would,
	// and a session this browser had before ends. Where the account's rules
	// refuse a password (its SSO is required), the page says so instead.
	signedIn, refused, err := h.signIn(w, r, m)
	if err != nil {
		return err
	}
	h.pages.Render(w, r, http.StatusOK, h.accepted, web.Page{
		Title:    "Welcome",
		Branding: branding(link.Account),
		Data: struct {
			AccountName, Email, Refused string
			SignedIn                    bool
		}{link.Account.Title(), m.User.Email, refused, signedIn},
	})
	return nil
}

// signIn opens a session for the member who accepted; refused is the
// trust rules' reason when their password does not open the account.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, m directory.Member) (bool, string, error) {
	ctx := r.Context()
	if old := h.session.Token(r); old != "" {
		if err := h.dir.EndSession(ctx, old); err != nil {
			return false, "", err
		}
	}
	token, sess, err := h.dir.StartSession(ctx, m.User.ID, m.Membership.AccountID, directory.ByPassword)
	if directory.KindOf(err) == directory.Forbidden {
		return false, directory.Message(err), nil
	}
	if err != nil {
		return false, "", err
	}
	h.session.Set(w, token, sess.ExpiresAt)
	return true, "", nil
}
