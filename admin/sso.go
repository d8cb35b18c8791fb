package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// ConnectionSetup is how the console adds and changes connections: the
// protocol work (fetching and checking SAML metadata, OpenID discovery,
// sealing client secrets) is package sso's (sso.Setup), which the console
// may not import; cmd/admit passes it in Config.SSO.
type ConnectionSetup interface {
	// URLs are the values the identity provider's admin must paste.
	URLs(accountSlug string, c directory.Connection) directory.ConnectionURLs
	// TestLoginPath starts a Test sign-in whose result is shown at
	// returnTo?ref=REFERENCE.
	TestLoginPath(accountSlug string, c directory.Connection, returnTo string) string
	// SigningCertificateExpiries are when the identity provider's signing
	// certificates (per the connection's SAML metadata) end.
	SigningCertificateExpiries(c directory.Connection) []time.Time
	AddSAML(ctx context.Context, accountID string, actor directory.Actor, in directory.NewConnection, md directory.MetadataSource) (directory.Connection, error)
	AddOIDC(ctx context.Context, accountID string, actor directory.Actor, in directory.NewConnection, secret string) (directory.Connection, error)
	SetMetadata(ctx context.Context, accountID string, actor directory.Actor, id string, md directory.MetadataSource) (directory.Connection, bool, error)
	Update(ctx context.Context, accountID string, actor directory.Actor, id string, ch directory.ConnectionChange) (directory.Connection, error)
}

// ssoPages are the Single sign-on section's templates; each is parsed
// with the section's shared parts.
var ssoPages = []string{"sso", "sso_new", "sso_connection", "sso_remove", "sso_attempts", "sso_test", "sso_roles"}

func (h *Handler) parseSSO() error {
	for _, name := range ssoPages {
		t, err := web.ParseConsolePage(templates, "templates/nav.html", "templates/sso_parts.html", "templates/"+name+".html")
		if err != nil {
			return err
		}
		h.tmpl[name] = t
	}
	return nil
}

// maxMetadataUpload bounds an uploaded metadata file: the guarded client's
// bound for fetched metadata is the same 1 MiB.
const maxMetadataUpload = 1 << 20

// expiryWarning is how long before a signing certificate ends the console
// warns about it: time for the provider's admin to roll it over.
const expiryWarning = 30 * 24 * time.Hour

// registerSSO adds the Single sign-on section's routes.
func (h *Handler) registerSSO(mux *http.ServeMux, get, post func(consoleFunc) http.Handler) {
	mux.Handle("GET /admin/{account}/sso", get(h.handleSSO))
	mux.Handle("GET /admin/{account}/sso/new", get(h.sso(h.handleNewConnection)))
	mux.Handle("POST /admin/{account}/sso/new", post(h.sso(h.handleAddConnection)))
	mux.Handle("GET /admin/{account}/sso/roles", get(h.sso(h.handleRoleMappings)))
	mux.Handle("POST /admin/{account}/sso/roles", post(h.sso(h.handleMapGroup)))
	mux.Handle("POST /admin/{account}/sso/roles/unmap", post(h.sso(h.handleUnmapGroup)))
	mux.Handle("GET /admin/{account}/sso/connections/{name}", get(h.sso(h.handleConnection)))
	mux.Handle("POST /admin/{account}/sso/connections/{name}", post(h.sso(h.handleEditConnection)))
	mux.Handle("POST /admin/{account}/sso/connections/{name}/metadata", post(h.sso(h.handleSetMetadata)))
	mux.Handle("GET /admin/{account}/sso/connections/{name}/remove", get(h.sso(h.handleRemoveForm)))
	mux.Handle("POST /admin/{account}/sso/connections/{name}/remove", post(h.sso(h.handleRemoveConnection)))
	mux.Handle("GET /admin/{account}/sso/connections/{name}/attempts", get(h.sso(h.handleAttempts)))
	mux.Handle("GET /admin/{account}/sso/connections/{name}/test", get(h.sso(h.handleTestResult)))
}

// handleSSO is the section's first page, which the menu shows every
// admin: one who may not set up single sign-on is told who may, as the
// SCIM, Domains and Webhooks pages tell them, and sees no connection (the
// section's other pages refuse them).
func (h *Handler) handleSSO(w http.ResponseWriter, r *http.Request, v view) error {
	if h.setup != nil && !v.Admin.Can(directory.ManageSSO) {
		v.Section = "sso"
		v.Page = ssoPage{}
		h.render(w, r, http.StatusOK, "sso", "Single sign-on", v)
		return nil
	}
	return h.sso(h.handleConnections)(w, r, v)
}

// sso lets fn run for an admin who may set up single sign-on.
func (h *Handler) sso(fn consoleFunc) consoleFunc {
	return func(w http.ResponseWriter, r *http.Request, v view) error {
		if err := v.Admin.Allowed(directory.ManageSSO); err != nil {
			return err
		}
		if h.setup == nil {
			return directory.NotFoundError("Single sign-on cannot be set up on this server.")
		}
		v.Section = "sso"
		if done := r.URL.Query().Get("done"); ssoNotices[done] != "" {
			v.Notice, v.Done = ssoNotices[done], done
		}
		return fn(w, r, v)
	}
}

// ssoNotices are the notices a redirect after a change may ask for.
var ssoNotices = map[string]string{
	"added":    "The connection has been added. Give the identity provider's admin the values below.",
	"updated":  "The connection has been changed.",
	"metadata": "The identity provider's metadata has been saved.",
	"certs":    "The identity provider's metadata has been saved; its signing certificates changed (audited).",
	"removed":  "The connection has been removed. Its members stay; they sign in with a password or another connection.",
	"mapped":   "The group now gives its role; the roles of its members have been updated.",
	"unmapped": "The mapping has been removed; the roles of the group's members have been updated.",
}

// connectionNamed finds the account's connection with the name in the
// path: another account's is not found, whatever the name.
func (h *Handler) connectionNamed(ctx context.Context, v view, name string) (directory.Connection, error) {
	all, err := h.dir.Connections(ctx, v.Admin.Account.ID)
	if err != nil {
		return directory.Connection{}, err
	}
	for _, c := range all {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return directory.Connection{}, directory.NotFoundError("There is no connection at this address.")
}

// expiry is one signing certificate's end, as the console warns of it.
type expiry struct {
	NotAfter time.Time
	Days     int
	Expired  bool
	Soon     bool
}

func (h *Handler) expiries(c directory.Connection) []expiry {
	now := time.Now()
	var out []expiry
	for _, t := range h.setup.SigningCertificateExpiries(c) {
		out = append(out, expiry{NotAfter: t, Days: int(t.Sub(now).Hours() / 24), Expired: !t.After(now), Soon: t.Sub(now) < expiryWarning})
	}
	return out
}

// ssoPage is the section's first page: the account's connections, to
// those who may set them up.
type ssoPage struct {
	Rows      []connectionRow
	MayChange bool
}

type connectionRow struct {
	Conn     directory.Connection
	Path     string
	Expiries []expiry
	Warn     bool
}

func (h *Handler) connectionPath(v view, c directory.Connection) string {
	return v.Base + "/sso/connections/" + url.PathEscape(c.Name)
}

func (h *Handler) handleConnections(w http.ResponseWriter, r *http.Request, v view) error {
	all, err := h.dir.Connections(r.Context(), v.Admin.Account.ID)
	if err != nil {
		return err
	}
	rows := make([]connectionRow, len(all))
	for i, c := range all {
		rows[i] = connectionRow{Conn: c, Path: h.connectionPath(v, c), Expiries: h.expiries(c)}
		rows[i].Warn = slices.ContainsFunc(rows[i].Expiries, func(e expiry) bool { return e.Soon })
	}
	v.Page = ssoPage{Rows: rows, MayChange: true}
	h.render(w, r, http.StatusOK, "sso", "Single sign-on", v)
	return nil
}

// connectionForm is what the Add connection form holds, to show it again
// after a mistake (never the client secret).
type connectionForm struct {
	Protocol, IdP, Name, Domains  string
	MetadataURL                   string
	EntityID, SSOURL, Certificate string
	Issuer, ClientID              string
	RedirectURI                   string // of a connection named oidc
	IdPs                          []idpGuide
	AccountDomains                []string
}

func (h *Handler) newConnectionForm(v view, q url.Values) connectionForm {
	f := connectionForm{Protocol: q.Get("protocol"), IdP: q.Get("idp"), IdPs: idpGuides, AccountDomains: v.Admin.Account.Domains}
	if f.Protocol != string(directory.ProtocolOIDC) {
		f.Protocol = string(directory.ProtocolSAML)
	}
	f.RedirectURI = h.setup.URLs(v.Admin.Account.Slug, directory.Connection{Protocol: directory.ProtocolOIDC, Name: "oidc"}).RedirectURI
	return f
}

func (h *Handler) handleNewConnection(w http.ResponseWriter, r *http.Request, v view) error {
	v.Page = h.newConnectionForm(v, r.URL.Query())
	h.render(w, r, http.StatusOK, "sso_new", "Add a connection", v)
	return nil
}

func (h *Handler) handleAddConnection(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	if err := r.ParseMultipartForm(maxMetadataUpload); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return directory.InvalidError("The form could not be read: is the metadata file larger than 1 MiB?")
	}
	f := h.newConnectionForm(v, r.PostForm)
	f.Name, f.Domains = strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("domains")
	f.MetadataURL, f.EntityID, f.SSOURL, f.Certificate = strings.TrimSpace(r.PostFormValue("metadata_url")), r.PostFormValue("entity_id"), r.PostFormValue("sso_url"), r.PostFormValue("certificate")
	f.Issuer, f.ClientID = strings.TrimSpace(r.PostFormValue("issuer")), strings.TrimSpace(r.PostFormValue("client_id"))
	in := directory.NewConnection{Name: f.Name, Domains: splitDomains(f.Domains), JITMode: directory.JITCreate}
	var (
		c   directory.Connection
		err error
	)
	if f.Protocol == string(directory.ProtocolOIDC) {
		in.Settings.OIDC = &directory.OIDCSettings{Issuer: f.Issuer, ClientID: f.ClientID}
		c, err = h.setup.AddOIDC(ctx, v.Admin.Account.ID, v.Admin.Actor(), in, r.PostFormValue("client_secret"))
	} else {
		md, mdErr := metadataSource(r, f.MetadataURL, f.EntityID, f.SSOURL, f.Certificate)
		if mdErr != nil {
			return mdErr
		}
		c, err = h.setup.AddSAML(ctx, v.Admin.Account.ID, v.Admin.Actor(), in, md)
	}
	if directory.KindOf(err) == directory.Invalid || directory.KindOf(err) == directory.Conflict {
		v.Problems, v.Page = directory.ProblemsOf(err), f
		h.render(w, r, http.StatusBadRequest, "sso_new", "Add a connection", v)
		return nil
	}
	if err != nil {
		return err
	}
	q := url.Values{"done": {"added"}}
	if f.IdP != "" {
		q.Set("idp", f.IdP)
	}
	http.Redirect(w, r, h.connectionPath(v, c)+"?"+q.Encode(), http.StatusSeeOther)
	return nil
}

// metadataSource reads the metadata an admin gave: a URL, an uploaded
// file, or the three fields.
func metadataSource(r *http.Request, metadataURL, entityID, ssoURL, certificate string) (directory.MetadataSource, error) {
	md := directory.MetadataSource{URL: metadataURL, EntityID: strings.TrimSpace(entityID), SSOURL: strings.TrimSpace(ssoURL), CertificatePEM: strings.TrimSpace(certificate)}
	if r.MultipartForm == nil {
		return md, nil
	}
	file, _, err := r.FormFile("metadata_file")
	if errors.Is(err, http.ErrMissingFile) {
		return md, nil
	}
	if err != nil {
		return md, directory.InvalidError("The metadata file could not be read.")
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxMetadataUpload+1))
	if err != nil || len(data) > maxMetadataUpload {
		return md, directory.InvalidError("The metadata file could not be read, or is larger than 1 MiB.")
	}
	md.Document = data
	return md, nil
}

// splitDomains reads domains typed with commas, spaces or one a line.
func splitDomains(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' })
}

// setupValue is one value the identity provider's admin pastes.
type setupValue struct {
	ID, Label, Value, Note string
}

type connectionPage struct {
	Conn   directory.Connection
	Path   string
	Values []setupValue
	IdP    string
	Guide  *idpGuide
	Steps  []string
	// MetadataForm fills the metadata form (the URL the connection has).
	MetadataForm connectionForm
	IdPs         []idpGuide
	Expiries     []expiry
	TestPath     string
	Attempts     []attemptRow
	Domains      string
	JITModes     []directory.JITMode
	Mapping      directory.AttributeMapping
	IsSAML       bool
	NoDomains    bool
}

func (h *Handler) handleConnection(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	c, err := h.connectionNamed(ctx, v, r.PathValue("name"))
	if err != nil {
		return err
	}
	return h.renderConnection(w, r, v, c, http.StatusOK)
}

func (h *Handler) renderConnection(w http.ResponseWriter, r *http.Request, v view, c directory.Connection, status int) error {
	ctx := r.Context()
	u := h.setup.URLs(v.Admin.Account.Slug, c)
	p := connectionPage{
		Conn: c, Path: h.connectionPath(v, c), IdP: r.URL.Query().Get("idp"), IdPs: idpGuides, Expiries: h.expiries(c),
		Domains: strings.Join(c.Domains, ", "), JITModes: []directory.JITMode{directory.JITCreate, directory.JITLink, directory.JITOff},
		Mapping: c.Settings.Mapping, IsSAML: c.Protocol == directory.ProtocolSAML,
		MetadataForm: connectionForm{MetadataURL: c.MetadataURL},
	}
	if p.IsSAML {
		p.Values = []setupValue{
			{"sp-entity-id", "SP entity ID (audience, identifier)", u.EntityID, ""},
			{"acs-url", "ACS URL (single sign-on URL, reply URL)", u.ACS, ""},
			{"slo-url", "Single logout URL (SLO, logout URL)", u.SLO, "optional: the provider must sign its logout requests"},
			{"metadata-url", "SP metadata URL", u.Metadata, "for providers that import it"},
			{"nameid-format", "NameID format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "the person's email address"},
		}
	} else {
		p.Values = []setupValue{
			{"redirect-uri", "Redirect URI (callback URL)", u.RedirectURI, ""},
			{"initiate-login-uri", "Initiate login URI", u.InitiateLoginURI, "optional: for tiles started at the provider"},
		}
	}
	p.Values = append(p.Values, setupValue{"intranet-url", "Intranet login link", u.IntranetURL, "put it on the intranet: it starts the sign-in"})
	for i := range idpGuides {
		if idpGuides[i].ID == p.IdP {
			p.Guide, p.Steps = &idpGuides[i], idpGuides[i].OIDC
			if p.IsSAML {
				p.Steps = idpGuides[i].SAML
			}
		}
	}
	if c.Ready() {
		p.TestPath = h.setup.TestLoginPath(v.Admin.Account.Slug, c, p.Path+"/test")
	}
	attempts, err := h.dir.LoginAttempts(ctx, v.Admin.Account.ID, c.ID, 5)
	if err != nil {
		return err
	}
	p.Attempts = attemptRows(attempts, 5)
	v.Page = p
	h.render(w, r, status, "sso_connection", "Connection "+c.Name, v)
	return nil
}

func (h *Handler) handleEditConnection(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	c, err := h.connectionNamed(ctx, v, r.PathValue("name"))
	if err != nil {
		return err
	}
	domains := splitDomains(r.PostFormValue("domains"))
	mode := directory.JITMode(r.PostFormValue("jit_mode"))
	st := c.Settings
	if st.OIDC != nil {
		o := *st.OIDC
		st.OIDC = &o
	}
	st.Mapping = directory.AttributeMapping{
		Email: strings.TrimSpace(r.PostFormValue("map_email")), FirstName: strings.TrimSpace(r.PostFormValue("map_first_name")),
		LastName: strings.TrimSpace(r.PostFormValue("map_last_name")), DisplayName: strings.TrimSpace(r.PostFormValue("map_display_name")),
		Groups: strings.TrimSpace(r.PostFormValue("map_groups")),
	}
	if c.Protocol == directory.ProtocolSAML {
		st.AllowIDPInitiated = r.PostFormValue("allow_idp_initiated") == "on"
		st.Mapping.Subject = strings.TrimSpace(r.PostFormValue("map_subject"))
	}
	_, err = h.setup.Update(ctx, v.Admin.Account.ID, v.Admin.Actor(), c.ID, directory.ConnectionChange{Domains: &domains, JITMode: &mode, Settings: &st})
	if directory.KindOf(err) == directory.Invalid || directory.KindOf(err) == directory.Conflict {
		v.Problems = directory.ProblemsOf(err)
		return h.renderConnection(w, r, v, c, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, h.connectionPath(v, c)+"?done=updated", http.StatusSeeOther)
	return nil
}

func (h *Handler) handleSetMetadata(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	if err := r.ParseMultipartForm(maxMetadataUpload); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return directory.InvalidError("The form could not be read: is the metadata file larger than 1 MiB?")
	}
	c, err := h.connectionNamed(ctx, v, r.PathValue("name"))
	if err != nil {
		return err
	}
	md, err := metadataSource(r, strings.TrimSpace(r.PostFormValue("metadata_url")), r.PostFormValue("entity_id"), r.PostFormValue("sso_url"), r.PostFormValue("certificate"))
	if err != nil {
		return err
	}
	_, changed, err := h.setup.SetMetadata(ctx, v.Admin.Account.ID, v.Admin.Actor(), c.ID, md)
	if directory.KindOf(err) == directory.Invalid {
		v.Problems = directory.ProblemsOf(err)
		return h.renderConnection(w, r, v, c, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	done := "metadata"
	if changed && c.Ready() {
		done = "certs"
	}
	http.Redirect(w, r, h.connectionPath(v, c)+"?done="+done, http.StatusSeeOther)
	return nil
}

func (h *Handler) handleRemoveForm(w http.ResponseWriter, r *http.Request, v view) error {
	c, err := h.connectionNamed(r.Context(), v, r.PathValue("name"))
	if err != nil {
		return err
	}
	v.Page = struct {
		Conn directory.Connection
		Path string
	}{c, h.connectionPath(v, c)}
	h.render(w, r, http.StatusOK, "sso_remove", "Remove connection "+c.Name, v)
	return nil
}

func (h *Handler) handleRemoveConnection(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	c, err := h.connectionNamed(ctx, v, r.PathValue("name"))
	if err != nil {
		return err
	}
	// The confirmation page's form says which connection it confirms: a
	// post without it (or for another name) removes nothing.
	if !strings.EqualFold(r.PostFormValue("confirm"), c.Name) {
		return directory.InvalidError("Confirm the removal on the connection's Remove page.")
	}
	if err := h.dir.DeleteConnection(ctx, v.Admin.Account.ID, v.Admin.Actor(), c.ID); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/sso?done=removed", http.StatusSeeOther)
	return nil
}
