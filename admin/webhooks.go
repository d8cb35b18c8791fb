package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

func (h *Handler) registerWebhooks(mux *http.ServeMux) {
	get := func(fn consoleFunc) http.Handler { return h.pages.Handler(h.console(fn)) }
	post := func(fn consoleFunc) http.Handler { return h.pages.Protect(h.pages.Handler(h.console(fn))) }
	mux.Handle("GET /admin/{account}/webhooks", get(h.handleWebhooks))
	mux.Handle("POST /admin/{account}/webhooks", post(h.handleAddWebhook))
	mux.Handle("GET /admin/{account}/webhooks/{id}", get(h.handleWebhook))
	mux.Handle("POST /admin/{account}/webhooks/{id}/rotate", post(h.handleRotateWebhook))
	mux.Handle("POST /admin/{account}/webhooks/{id}/enable", post(h.handleEnableWebhook))
	mux.Handle("POST /admin/{account}/webhooks/{id}/test", post(h.handleTestWebhook))
	mux.Handle("POST /admin/{account}/webhooks/{id}/remove", post(h.handleRemoveWebhook))
	mux.Handle("POST /admin/{account}/webhooks/{id}/deliveries/{delivery}/redeliver", post(h.handleRedeliver))
	mux.Handle("POST /admin/{account}/webhooks/{id}/recover", post(h.handleRecoverWebhook))
}

type webhooksPage struct {
	MayChange  bool
	Webhooks   []directory.Webhook
	EventTypes []string
	Max        int
	// What the add form was sent with, shown again when refused.
	URL    string
	Chosen map[string]bool
	// Secret is a secret just made, for the webhook SecretOf: shown on
	// this response only.
	Secret, SecretOf string
}

var webhookNotices = map[string]string{
	"removed":     "The webhook has been removed with its deliveries.",
	"enabled":     "The webhook is enabled: what waited for it is delivered, in order.",
	"redelivered": "The delivery will be sent again in a moment, with the same webhook-id.",
	"recovered":   "The given-up deliveries will be sent again in a moment, each person's in order, with their webhook-ids.",
	"unrecovered": "No delivery was given up in that time: nothing is sent again.",
}

func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request, v view, status int, p webhooksPage) error {
	v.Section = "webhooks"
	p.MayChange, p.EventTypes, p.Max = v.Admin.Can(directory.ManageWebhooks), directory.EventTypes, directory.MaxAccountWebhooks
	if p.MayChange {
		hooks, err := h.dir.AccountWebhooks(r.Context(), v.Admin)
		if err != nil {
			return err
		}
		for i := range hooks {
			hooks[i].PausedUntil = shownPause(hooks[i])
		}
		p.Webhooks = hooks
	}
	if done := r.URL.Query().Get("done"); webhookNotices[done] != "" && status == http.StatusOK && p.Secret == "" {
		v.Notice, v.Done = webhookNotices[done], done
	}
	v.Page = p
	h.render(w, r, status, "webhooks", "Webhooks", v)
	return nil
}

func (h *Handler) handleWebhooks(w http.ResponseWriter, r *http.Request, v view) error {
	return h.webhooks(w, r, v, http.StatusOK, webhooksPage{})
}

// handleAddWebhook answers with the page itself, not a redirect: the
// secret exists in this response only (pages are sent no-store).
func (h *Handler) handleAddWebhook(w http.ResponseWriter, r *http.Request, v view) error {
	if err := r.ParseForm(); err != nil {
		return directory.InvalidError("The form could not be read.")
	}
	if h.secrets == nil {
		return directory.InvalidError("This server does not make webhook secrets.")
	}
	types := r.PostForm["events"]
	secret, seal := h.secrets.New()
	hook, err := h.dir.AddAccountWebhook(r.Context(), v.Admin, r.PostFormValue("url"), types, seal)
	if k := directory.KindOf(err); k == directory.Invalid || k == directory.Conflict {
		v.Problems = directory.ProblemsOf(err)
		chosen := map[string]bool{}
		for _, t := range types {
			chosen[t] = true
		}
		return h.webhooks(w, r, v, web.StatusOf(err), webhooksPage{URL: r.PostFormValue("url"), Chosen: chosen})
	}
	if err != nil {
		return err
	}
	return h.webhooks(w, r, v, http.StatusOK, webhooksPage{Secret: secret, SecretOf: hook.URL})
}

// handleRotateWebhook rotates only the secret the form was shown with
// (its version, the webhook's last change): a reload of the page that
// shows a new secret would otherwise rotate again, and rotate out the
// secret just shown, which no receiver has yet.
func (h *Handler) handleRotateWebhook(w http.ResponseWriter, r *http.Request, v view) error {
	if h.secrets == nil {
		return directory.InvalidError("This server does not make webhook secrets.")
	}
	// The form carries the webhook's UpdatedAt in nanoseconds (the
	// template writes it); one without (not the page's) matches none.
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	secret, seal := h.secrets.New()
	hook, err := h.dir.RotateAccountWebhookSecret(r.Context(), v.Admin, r.PathValue("id"), defaultOverlap, seal, time.Unix(0, version))
	if directory.KindOf(err) == directory.Conflict {
		return directory.ConflictError("The secret has been rotated since this page was shown (a reload sends the form again). Rotate it again from the Webhooks page if you need another.")
	}
	if err != nil {
		return err
	}
	return h.webhooks(w, r, v, http.StatusOK, webhooksPage{Secret: secret, SecretOf: hook.URL})
}

func (h *Handler) handleEnableWebhook(w http.ResponseWriter, r *http.Request, v view) error {
	if _, err := h.dir.EnableAccountWebhook(r.Context(), v.Admin, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/webhooks?done=enabled", http.StatusSeeOther)
	return nil
}

func (h *Handler) handleRemoveWebhook(w http.ResponseWriter, r *http.Request, v view) error {
	if err := h.dir.RemoveAccountWebhook(r.Context(), v.Admin, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/webhooks?done=removed", http.StatusSeeOther)
	return nil
}

type webhookPage struct {
	Webhook    directory.Webhook
	State      string
	Deliveries []directory.DeliveryWithAttempts
	Overlap    time.Duration
	// Tests are the newest test events sent to it; Tested is the one
	// just sent from this page (the redirect after it names it).
	Tests  []testResultJSON
	Tested *testResultJSON
	// MayTest: this server sends test events.
	MayTest bool
}

// handleWebhook shows one webhook, its newest deliveries, each with
// every attempt, and its newest test events.
func (h *Handler) handleWebhook(w http.ResponseWriter, r *http.Request, v view) error {
	q := r.URL.Query()
	if done := q.Get("done"); done == "redelivered" || done == "recovered" || done == "unrecovered" {
		v.Notice, v.Done = webhookNotices[done], done
	}
	v.Section = "webhooks"
	ctx, id := r.Context(), r.PathValue("id")
	hook, err := h.dir.AccountWebhook(ctx, v.Admin, id)
	if err != nil {
		return err
	}
	ds, err := h.dir.AccountWebhookDeliveries(ctx, v.Admin, id, 50)
	if err != nil {
		return err
	}
	ts, err := h.dir.AccountWebhookTests(ctx, v.Admin, id, directory.KeptWebhookTests)
	if err != nil {
		return err
	}
	hook.PausedUntil = shownPause(hook)
	p := webhookPage{Webhook: hook, State: hook.State(), Deliveries: ds, Overlap: defaultOverlap, MayTest: h.sender != nil}
	p.Tests = make([]testResultJSON, len(ts))
	for i, t := range ts {
		p.Tests[i] = toTestResult(t, time.Now())
		if t.EventID == q.Get("test") {
			p.Tested = &p.Tests[i]
		}
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "webhook", "Webhook "+hook.URL, v)
	return nil
}

// handleTestWebhook sends a test event at once, and shows how it went on
// the webhook's page: a redirect to it, which a reload does not send again.
func (h *Handler) handleTestWebhook(w http.ResponseWriter, r *http.Request, v view) error {
	if h.sender == nil {
		return directory.InvalidError("This server does not send test events.")
	}
	id := r.PathValue("id")
	t, err := h.dir.TestAccountWebhook(r.Context(), v.Admin, id, h.sender)
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/webhooks/"+url.PathEscape(id)+"?test="+url.QueryEscape(t.Event.ID)+"#test-result", http.StatusSeeOther)
	return nil
}

func (h *Handler) handleRedeliver(w http.ResponseWriter, r *http.Request, v view) error {
	id := r.PathValue("id")
	if _, err := h.dir.RedeliverAccountWebhook(r.Context(), v.Admin, id, r.PathValue("delivery")); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/webhooks/"+url.PathEscape(id)+"?done=redelivered", http.StatusSeeOther)
	return nil
}

// recoverWithin is how far back the recovery form on a webhook's page
// reaches, by its choices; 0 is every delivery whose event is still kept.
var recoverWithin = map[string]time.Duration{"24h": 24 * time.Hour, "72h": 72 * time.Hour, "168h": 168 * time.Hour, "all": 0}

// handleRecoverWebhook sends again the deliveries the webhook gave up,
// made within the time chosen.
func (h *Handler) handleRecoverWebhook(w http.ResponseWriter, r *http.Request, v view) error {
	id := r.PathValue("id")
	within, ok := recoverWithin[r.PostFormValue("within")]
	if !ok {
		return directory.InvalidError("Choose how far back to send given-up deliveries again.")
	}
	var since time.Time
	if within > 0 {
		since = time.Now().Add(-within)
	}
	n, err := h.dir.RecoverAccountWebhook(r.Context(), v.Admin, id, since)
	if err != nil {
		return err
	}
	done := "recovered"
	if n == 0 {
		done = "unrecovered"
	}
	http.Redirect(w, r, v.Base+"/webhooks/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}
