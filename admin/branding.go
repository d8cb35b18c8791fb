package admin

import (
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// MailPreview renders the invitation email an account's people get, in the
// account's branding (mail.Renderer). The console cannot import package
// mail, so serve.go passes it in.
type MailPreview interface {
	PreviewInvitation(a directory.Account, inviterName string) (subject, html string, err error)
}

// SignInPreview writes the sign-in page in the given branding
// (login.Handler), for the console's preview.
type SignInPreview interface {
	PreviewSignIn(w http.ResponseWriter, r *http.Request, b web.Branding)
}

func (h *Handler) registerBranding(mux *http.ServeMux) {
	get := func(fn consoleFunc) http.Handler { return h.pages.Handler(h.console(fn)) }
	post := func(fn consoleFunc) http.Handler { return h.pages.Protect(h.pages.Handler(h.console(fn))) }
	mux.Handle("GET /admin/{account}/branding", get(h.handleBranding))
	mux.Handle("POST /admin/{account}/branding", post(h.handleSetBranding))
	mux.Handle("POST /admin/{account}/branding/preview", post(h.handlePreviewBranding))
	mux.Handle("POST /admin/{account}/branding/logo", post(h.handleUploadLogo))
	mux.Handle("POST /admin/{account}/branding/logo/remove", post(h.handleRemoveLogo))
	mux.Handle("GET /admin/{account}/branding/preview/email", get(h.handlePreviewEmail))
	mux.Handle("GET /admin/{account}/branding/preview/sign-in", get(h.handlePreviewSignIn))
	// The logo is public: emails and the sign-in page show it to people
	// who are not signed in.
	mux.Handle("GET /branding/{account}/logo/{hash}", h.pages.Handler(h.handleLogo))
}

type brandingPage struct {
	Branding  directory.Branding
	MayChange bool
	// LogoSource is what pages show now: the upload, else the URL.
	LogoSource string
	// EmailPreview and SignInPreview are the preview frames' addresses,
	// carrying unsaved values after the Preview button.
	EmailPreview, SignInPreview template.URL
	Previewing                  bool
	MaxLogoKiB                  int
}

func (h *Handler) brandingPage(v view, b directory.Branding, previewing bool) brandingPage {
	q := url.Values{}
	if previewing {
		q = url.Values{"display_name": {b.DisplayName}, "logo_url": {b.LogoURL}, "color": {b.PrimaryColor}, "sender_name": {b.SenderName}}
	}
	qs := ""
	if len(q) > 0 {
		qs = "?" + q.Encode()
	}
	return brandingPage{
		Branding: b, MayChange: v.Admin.Can(directory.ManageBranding), LogoSource: v.Admin.Account.LogoSource(), Previewing: previewing,
		// Built from url.Values on a path of ours: safe as a whole URL.
		EmailPreview: template.URL(v.Base + "/branding/preview/email" + qs), SignInPreview: template.URL(v.Base + "/branding/preview/sign-in" + qs),
		MaxLogoKiB: directory.MaxLogoBytes >> 10,
	}
}

func (h *Handler) handleBranding(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "branding"
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Notice, v.Done = "The branding has been saved.", "saved"
	case "logo":
		v.Notice, v.Done = "The logo has been uploaded.", "logo"
	case "logo-removed":
		v.Notice, v.Done = "The uploaded logo has been removed.", "logo-removed"
	}
	v.Page = h.brandingPage(v, v.Admin.Account.Branding, false)
	h.renderBranding(w, r, http.StatusOK, v)
	return nil
}

// renderBranding renders the page with frames allowed: the previews are
// admit's own pages.
func (h *Handler) renderBranding(w http.ResponseWriter, r *http.Request, status int, v view) {
	a := v.Admin.Account
	h.pages.Render(w, r, status, h.tmpl["branding"], web.Page{
		Title: "Branding", Wide: true, Data: v, Frames: true,
		Branding: web.Branding{Name: a.Title(), LogoURL: a.LogoSource(), PrimaryColor: a.Branding.PrimaryColor},
	})
}

// formBranding is the saved branding with the form's values over it.
func formBranding(r *http.Request, b directory.Branding) directory.Branding {
	b.DisplayName, b.LogoURL, b.PrimaryColor, b.SenderName = r.PostFormValue("display_name"), r.PostFormValue("logo_url"), r.PostFormValue("color"), r.PostFormValue("sender_name")
	return b
}

func (h *Handler) handleSetBranding(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "branding"
	b := formBranding(r, v.Admin.Account.Branding)
	_, err := h.dir.Rebrand(r.Context(), v.Admin, b.DisplayName, b.LogoURL, b.PrimaryColor, b.SenderName)
	if directory.KindOf(err) == directory.Invalid {
		v.Page, v.Problems = h.brandingPage(v, b, true), directory.ProblemsOf(err)
		h.renderBranding(w, r, http.StatusBadRequest, v)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/branding?done=saved", http.StatusSeeOther)
	return nil
}

// handlePreviewBranding shows the page again with the typed values in the
// previews, saving nothing: the preview works without JavaScript.
func (h *Handler) handlePreviewBranding(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "branding"
	if err := v.Admin.Allowed(directory.ManageBranding); err != nil {
		return err
	}
	b := formBranding(r, v.Admin.Account.Branding)
	v.Page, v.Problems = h.brandingPage(v, b, true), b.Validate()
	v.Notice = "This is a preview: nothing is saved until you choose Save."
	h.renderBranding(w, r, http.StatusOK, v)
	return nil
}

func (h *Handler) handleUploadLogo(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "branding"
	if err := v.Admin.Allowed(directory.ManageBranding); err != nil {
		return err
	}
	var data []byte
	f, _, err := r.FormFile("logo")
	switch {
	case err == nil:
		defer f.Close()
		// One byte more than allowed, so CheckLogo sees it is too big.
		if data, err = io.ReadAll(io.LimitReader(f, directory.MaxLogoBytes+1)); err != nil {
			return err
		}
	case errors.Is(err, http.ErrMissingFile):
	default:
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return directory.InvalidError("the logo must be at most " + strconv.Itoa(directory.MaxLogoBytes>>10) + " KiB")
		}
		return directory.InvalidError("the upload could not be read; choose the file again")
	}
	_, err = h.dir.UploadLogo(r.Context(), v.Admin, data)
	if directory.KindOf(err) == directory.Invalid {
		v.Page, v.Problems = h.brandingPage(v, v.Admin.Account.Branding, false), directory.ProblemsOf(err)
		h.renderBranding(w, r, http.StatusBadRequest, v)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/branding?done=logo", http.StatusSeeOther)
	return nil
}

func (h *Handler) handleRemoveLogo(w http.ResponseWriter, r *http.Request, v view) error {
	if _, err := h.dir.RemoveLogo(r.Context(), v.Admin); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/branding?done=logo-removed", http.StatusSeeOther)
	return nil
}

// handleLogo serves an uploaded logo. Its type was sniffed when it was
// uploaded; nosniff keeps browsers from guessing another, and the sandbox
// policy makes a file opened on its own (a polyglot) a document that can
// run nothing. The address carries the logo's hash, so it never changes.
func (h *Handler) handleLogo(w http.ResponseWriter, r *http.Request) error {
	logo, err := h.dir.AccountLogo(r.Context(), r.PathValue("account"), r.PathValue("hash"))
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", logo.ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(logo.Data)))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("ETag", `"`+logo.Hash+`"`)
	if r.Header.Get("If-None-Match") == `"`+logo.Hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	_, _ = w.Write(logo.Data)
	return nil
}

// previewAccount is the account with the branding values of the query
// over its saved ones: what the Preview button shows. Values that could
// carry markup or CSS are dropped by the renderers, as on real pages.
func previewAccount(a directory.Account, q url.Values) directory.Account {
	for key, field := range map[string]*string{"display_name": &a.Branding.DisplayName, "logo_url": &a.Branding.LogoURL, "color": &a.Branding.PrimaryColor, "sender_name": &a.Branding.SenderName} {
		if q.Has(key) {
			*field = strings.TrimSpace(q.Get(key))
		}
	}
	return a
}

// framed lets a page be shown in the console's preview frames only, as a
// sandboxed document: no script, no forms, no reaching admit as the admin.
type framed struct {
	http.ResponseWriter
	wrote bool
}

func (f *framed) WriteHeader(code int) {
	if !f.wrote {
		f.wrote = true
		h := f.Header()
		policy := strings.Replace(h.Get("Content-Security-Policy"), "frame-ancestors 'none'", "frame-ancestors 'self'", 1)
		h.Set("Content-Security-Policy", "sandbox; "+policy)
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
	f.ResponseWriter.WriteHeader(code)
}

func (f *framed) Write(b []byte) (int, error) {
	if !f.wrote {
		f.WriteHeader(http.StatusOK)
	}
	return f.ResponseWriter.Write(b)
}

func (h *Handler) handlePreviewEmail(w http.ResponseWriter, r *http.Request, v view) error {
	if h.mail == nil {
		return directory.NotFoundError("There is no email preview here.")
	}
	inviter := strings.TrimSpace(v.Admin.User.FirstName + " " + v.Admin.User.LastName)
	_, html, err := h.mail.PreviewInvitation(previewAccount(v.Admin.Account, r.URL.Query()), inviter)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	// Emails style themselves inline; the frame is sandboxed and runs no script.
	hd.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; frame-ancestors 'none'")
	fw := &framed{ResponseWriter: w}
	_, _ = io.WriteString(fw, html)
	return nil
}

func (h *Handler) handlePreviewSignIn(w http.ResponseWriter, r *http.Request, v view) error {
	if h.signIn == nil {
		return directory.NotFoundError("There is no sign-in preview here.")
	}
	a := previewAccount(v.Admin.Account, r.URL.Query())
	h.signIn.PreviewSignIn(&framed{ResponseWriter: w}, r, web.Branding{Name: a.Title(), LogoURL: a.LogoSource(), PrimaryColor: a.Branding.PrimaryColor})
	return nil
}
