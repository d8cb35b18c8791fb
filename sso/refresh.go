package sso

import (
	"context"
	"log/slog"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
)

// Refresher keeps connections' metadata fresh from their metadata URLs and
// watches every certificate's end: identity providers rotate their signing
// certificates and publish the new one in their metadata ahead of time, so
// a refreshed connection trusts it before it is used.
type Refresher struct {
	Directory *directory.Service
	Certs     *certs.Manager
	Watcher   *certs.Watcher
	// Fetch is the guarded outbound client metadata is fetched with.
	Fetch  *fetch.Client
	Every  time.Duration // default 6 hours
	Logger *slog.Logger
	Now    func() time.Time
}

// Run refreshes at once, then every r.Every, until ctx ends.
func (r *Refresher) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = 6 * time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.RefreshOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshOnce fetches the metadata of every connection that has a URL;
// a failure is recorded on the connection, which keeps its last good copy.
// Then it reports certificate ends.
func (r *Refresher) RefreshOnce(ctx context.Context) {
	all, err := r.Directory.AllConnections(ctx)
	if err != nil {
		r.failed(ctx, "metadata refresh: list connections", err)
		return
	}
	accounts, err := r.Directory.Accounts(ctx)
	if err != nil {
		r.failed(ctx, "metadata refresh: list accounts", err)
		return
	}
	slugs := make(map[string]string, len(accounts))
	for _, a := range accounts {
		slugs[a.ID] = a.Slug
	}
	var ends []certs.Expiry
	for _, c := range all {
		if c.Protocol != directory.ProtocolSAML {
			continue
		}
		if c.MetadataURL != "" && ctx.Err() == nil {
			c = r.refresh(ctx, c, slugs[c.AccountID])
		}
		ends = append(ends, IDPExpiries(c.Metadata, slugs[c.AccountID], c.Name)...)
	}
	if r.Certs != nil {
		if set, err := r.Certs.Current(ctx); err == nil {
			ends = append(ends, set.Expiries()...)
		} else {
			r.Logger.ErrorContext(ctx, "certificate check", "err", err)
		}
	}
	if r.Watcher != nil {
		now := time.Now
		if r.Now != nil {
			now = r.Now
		}
		r.Watcher.Report(ctx, now(), ends)
	}
}

// failed logs a refresh that could not go on, unless it stopped because
// admit is stopping: a refresh cut short then is no error.
func (r *Refresher) failed(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.Logger.ErrorContext(ctx, msg, "err", err)
}

// refresher is who the directory's audit names for a refresh.
var refresher = directory.Actor{Source: directory.SourceSystem, Name: "metadata refresh"}

// refresh fetches c's metadata and saves it, or records why it could not
// be fetched; it returns the connection as it is now.
func (r *Refresher) refresh(ctx context.Context, c directory.Connection, slug string) directory.Connection {
	md, err := FetchMetadata(ctx, r.Fetch, c.MetadataURL)
	if err != nil {
		r.Logger.WarnContext(ctx, "metadata refresh failed; keeping the last good copy", "account", slug, "connection", c.Name, "err", err)
		// The connection's page shows the failure to the account's
		// owners: in their words; the log above keeps the whole error.
		if err := r.Directory.RecordMetadataFailure(ctx, c.AccountID, c.ID, forOwners(err)); err != nil {
			r.Logger.ErrorContext(ctx, "metadata refresh: save", "connection", c.ID, "err", err)
		}
		return c
	}
	if len(c.SigningCertificates) == 0 {
		// A connection from before certificates were compared: what it
		// trusts now is the baseline the new metadata is measured against.
		if held, err := CheckMetadata([]byte(c.Metadata)); err == nil {
			if saved, _, err := r.Directory.SetConnectionMetadata(ctx, c.AccountID, refresher, c.ID, held); err == nil {
				c = saved
			}
		}
	}
	saved, changed, err := r.Directory.SetConnectionMetadata(ctx, c.AccountID, refresher, c.ID, md)
	if err != nil {
		r.Logger.ErrorContext(ctx, "metadata refresh: save", "connection", c.ID, "err", err)
		return c
	}
	if changed {
		r.Logger.WarnContext(ctx, "the identity provider's signing certificates changed", "account", slug, "connection", c.Name,
			"previous", c.SigningCertificates, "current", saved.SigningCertificates)
	}
	return saved
}
