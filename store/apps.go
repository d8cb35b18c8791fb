package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type appRow struct {
	ID          string         `db:"id"`
	Name        string         `db:"name"`
	ClientID    string         `db:"client_id"`
	SecretHash  string         `db:"secret_hash"`
	Redirects   string         `db:"redirect_uris"`
	PostLogouts string         `db:"post_logout_redirect_uris"`
	Backchannel string         `db:"backchannel_logout_uri"`
	Public      bool           `db:"public"`
	AccountID   sql.NullString `db:"account_id"`
	Host        string         `db:"forward_auth_host"`
	PathPrefix  string         `db:"path_prefix"`
	GroupFilter string         `db:"group_filter"`
	Reuse       int            `db:"refresh_reuse_seconds"`
	CreatedAt   time.Time      `db:"created_at"`
}

const appColumns = `id, name, client_id, secret_hash, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, public, account_id, forward_auth_host, path_prefix, group_filter, refresh_reuse_seconds, created_at`

func (r appRow) app() (directory.App, error) {
	a := directory.App{ID: r.ID, Name: r.Name, ClientID: r.ClientID, SecretHash: r.SecretHash, BackchannelLogoutURI: r.Backchannel, Public: r.Public,
		AccountID: r.AccountID.String, ForwardAuthHost: r.Host, PathPrefix: r.PathPrefix, GroupFilter: directory.GroupFilter(r.GroupFilter),
		RefreshReuseInterval: time.Duration(r.Reuse) * time.Second, CreatedAt: r.CreatedAt.UTC()}
	if err := json.Unmarshal([]byte(r.Redirects), &a.RedirectURIs); err != nil {
		return a, fmt.Errorf("app %s redirect URIs: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.PostLogouts), &a.PostLogoutRedirectURIs); err != nil {
		return a, fmt.Errorf("app %s post-logout redirect URIs: %w", r.ID, err)
	}
	return a, nil
}

func jsonList(s []string) string {
	b, _ := json.Marshal(nonNil(s))
	return string(b)
}

// CreateApp stores an app; Conflict when its client id exists.
func (s *Store) CreateApp(ctx context.Context, a directory.App) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.Name, a.ClientID, a.SecretHash, jsonList(a.RedirectURIs), jsonList(a.PostLogoutRedirectURIs), a.BackchannelLogoutURI, a.Public, nullString(a.AccountID),
		a.ForwardAuthHost, a.PathPrefix, string(a.GroupFilter), int(a.RefreshReuseInterval/time.Second), a.CreatedAt)
	return s.dialect.wrap(err, "insert app")
}

// FindAppByClientID returns the app with a client id.
func (s *Store) FindAppByClientID(ctx context.Context, clientID string) (directory.App, error) {
	var r appRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+appColumns+` FROM apps WHERE client_id = ?`), clientID); err != nil {
		return directory.App{}, s.dialect.wrap(err, "find app")
	}
	return r.app()
}

// FindApps lists the apps, oldest first.
func (s *Store) FindApps(ctx context.Context) ([]directory.App, error) {
	var rows []appRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT `+appColumns+` FROM apps ORDER BY created_at, id`); err != nil {
		return nil, s.dialect.wrap(err, "find apps")
	}
	return appsOf(rows)
}

// FindAppsByForwardAuthHost returns the apps registered for a forward-auth
// host, whatever their path prefix (an index range of apps_forward_auth).
func (s *Store) FindAppsByForwardAuthHost(ctx context.Context, host string) ([]directory.App, error) {
	var rows []appRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+appColumns+` FROM apps WHERE forward_auth_host = ? AND forward_auth_host <> '' ORDER BY path_prefix`), host); err != nil {
		return nil, s.dialect.wrap(err, "find apps by forward-auth host")
	}
	return appsOf(rows)
}

// ForwardAuthHostInUse reports whether an app is registered for the
// forward-auth host host, or for one that starts with portPrefix (the
// same name with a port). Apps are few: a scan is fine, and substr,
// unlike a range, does not depend on the database's collation.
func (s *Store) ForwardAuthHostInUse(ctx context.Context, host, portPrefix string) (bool, error) {
	var found bool
	err := sqlx.GetContext(ctx, s.q, &found, s.rebind(`SELECT EXISTS (SELECT 1 FROM apps WHERE forward_auth_host <> ''
		AND (forward_auth_host = ? OR substr(forward_auth_host, 1, ?) = ?))`), host, len(portPrefix), portPrefix)
	return found, s.dialect.wrap(err, "find apps by forward-auth host name")
}

func appsOf(rows []appRow) ([]directory.App, error) {
	out := make([]directory.App, len(rows))
	for i, r := range rows {
		a, err := r.app()
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// UpdateAppSecret replaces an app's secret hash.
func (s *Store) UpdateAppSecret(ctx context.Context, id, secretHash string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE apps SET secret_hash = ? WHERE id = ?`), secretHash, id)
	if err != nil {
		return s.dialect.wrap(err, "update app secret")
	}
	return expectOne(res, "app")
}

// UpdateAppGroupFilter replaces the groups an app is told about.
func (s *Store) UpdateAppGroupFilter(ctx context.Context, id string, f directory.GroupFilter) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE apps SET group_filter = ? WHERE id = ?`), string(f), id)
	if err != nil {
		return s.dialect.wrap(err, "update app group filter")
	}
	return expectOne(res, "app")
}

// UpdateAppRefreshReuse replaces an app's refresh reuse interval.
func (s *Store) UpdateAppRefreshReuse(ctx context.Context, id string, d time.Duration) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE apps SET refresh_reuse_seconds = ? WHERE id = ?`), int(d/time.Second), id)
	if err != nil {
		return s.dialect.wrap(err, "update app refresh reuse interval")
	}
	return expectOne(res, "app")
}

// DeleteApp deletes an app with its authorizations and tokens.
func (s *Store) DeleteApp(ctx context.Context, id string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM apps WHERE id = ?`), id)
	if err != nil {
		return s.dialect.wrap(err, "delete app")
	}
	return expectOne(res, "app")
}

type appAuthorizationRow struct {
	ID                  string         `db:"id"`
	ClientID            string         `db:"client_id"`
	RedirectURI         string         `db:"redirect_uri"`
	State               string         `db:"state"`
	Nonce               string         `db:"nonce"`
	Scopes              string         `db:"scopes"`
	ResponseType        string         `db:"response_type"`
	ResponseMode        string         `db:"response_mode"`
	CodeChallenge       string         `db:"code_challenge"`
	CodeChallengeMethod string         `db:"code_challenge_method"`
	LoginHint           string         `db:"login_hint"`
	UserID              sql.NullString `db:"user_id"`
	AccountID           sql.NullString `db:"account_id"`
	Method              string         `db:"credential_method"`
	ConnectionID        string         `db:"connection_id"`
	AuthTime            sql.NullTime   `db:"auth_time"`
	CodeHash            sql.NullString `db:"code_hash"`
	CodeExpiresAt       sql.NullTime   `db:"code_expires_at"`
	CreatedAt           time.Time      `db:"created_at"`
	ExpiresAt           time.Time      `db:"expires_at"`
}

const appAuthorizationColumns = `id, client_id, redirect_uri, state, nonce, scopes, response_type, response_mode, code_challenge,
	code_challenge_method, login_hint, user_id, account_id, credential_method, connection_id, auth_time, code_hash, code_expires_at,
	created_at, expires_at`

func (r appAuthorizationRow) authorization() (directory.AppAuthorization, error) {
	a := directory.AppAuthorization{ID: r.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State, Nonce: r.Nonce,
		ResponseType: r.ResponseType, ResponseMode: r.ResponseMode, CodeChallenge: r.CodeChallenge, CodeChallengeMethod: r.CodeChallengeMethod,
		LoginHint: r.LoginHint, UserID: r.UserID.String, AccountID: r.AccountID.String,
		Credential: directory.Credential{Method: directory.SignInMethod(r.Method), ConnectionID: r.ConnectionID},
		AuthTime:   optionalTime(r.AuthTime), CodeHash: r.CodeHash.String, CodeExpiresAt: optionalTime(r.CodeExpiresAt),
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	if err := json.Unmarshal([]byte(r.Scopes), &a.Scopes); err != nil {
		return a, fmt.Errorf("app authorization %s scopes: %w", r.ID, err)
	}
	return a, nil
}

// CreateAppAuthorization stores an authorization whose person is known.
func (s *Store) CreateAppAuthorization(ctx context.Context, a directory.AppAuthorization) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO app_authorizations (id, client_id, redirect_uri, state, nonce, scopes,
		response_type, response_mode, code_challenge, code_challenge_method, login_hint, user_id, account_id, credential_method,
		connection_id, auth_time, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, a.ClientID, a.RedirectURI, a.State, a.Nonce, jsonList(a.Scopes), a.ResponseType, a.ResponseMode, a.CodeChallenge,
		a.CodeChallengeMethod, a.LoginHint, nullString(a.UserID), nullString(a.AccountID), string(a.Credential.Method),
		a.Credential.ConnectionID, a.AuthTime, a.CreatedAt, a.ExpiresAt)
	return s.dialect.wrap(err, "insert app authorization")
}

// FindAppAuthorizationByCode returns the authorization a code was issued for.
func (s *Store) FindAppAuthorizationByCode(ctx context.Context, codeHash string) (directory.AppAuthorization, error) {
	var r appAuthorizationRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+appAuthorizationColumns+` FROM app_authorizations WHERE code_hash = ?`), codeHash); err != nil {
		return directory.AppAuthorization{}, s.dialect.wrap(err, "find app authorization")
	}
	return r.authorization()
}

// ClaimAppAuthorizationCode marks the code of an authorization used, once:
// of two exchanges of one code at the same moment, one claims it and the
// other gets NotFound.
func (s *Store) ClaimAppAuthorizationCode(ctx context.Context, id, codeHash string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE app_authorizations SET code_hash = ? WHERE id = ? AND code_hash = ?`),
		"used:"+codeHash, id, codeHash)
	if err != nil {
		return s.dialect.wrap(err, "claim app authorization code")
	}
	return expectOne(res, "unused app authorization code")
}

// SetAppAuthorizationCode records an authorization's code, once.
func (s *Store) SetAppAuthorizationCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE app_authorizations SET code_hash = ?, code_expires_at = ?
		WHERE id = ? AND code_hash IS NULL AND user_id IS NOT NULL`), codeHash, expiresAt, id)
	if err != nil {
		return s.dialect.wrap(err, "set app authorization code")
	}
	return expectOne(res, "app authorization without a code")
}

// DeleteAppAuthorization deletes an authorization.
func (s *Store) DeleteAppAuthorization(ctx context.Context, id string) error {
	// One whose code was claimed stays until it expires, for replays of
	// the code to find (directory.AppAuthorizationByCode).
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_authorizations WHERE id = ? AND (code_hash IS NULL OR code_hash NOT LIKE 'used:%')`), id)
	return s.dialect.wrap(err, "delete app authorization")
}

// HoldAppAuthorization locks an authorization for the transaction that
// issues its tokens: on PostgreSQL the row stays
// locked until it commits, so RevokeAppAuthorization and
// DeleteAppTokensOfMembership wait for the tokens (SQLite's writers take
// turns already).
func (s *Store) HoldAppAuthorization(ctx context.Context, id string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE app_authorizations SET code_hash = code_hash WHERE id = ?`), id)
	if err != nil {
		return s.dialect.wrap(err, "hold app authorization")
	}
	return expectOne(res, "app authorization")
}

// RevokeAppAuthorization deletes an authorization whose code was claimed.
func (s *Store) RevokeAppAuthorization(ctx context.Context, id string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_authorizations WHERE id = ? AND code_hash LIKE 'used:%'`), id)
	return s.dialect.wrap(err, "revoke app authorization")
}

type appTokenRow struct {
	ID           string         `db:"id"`
	Kind         string         `db:"kind"`
	Hash         sql.NullString `db:"token_hash"`
	FamilyID     string         `db:"family_id"`
	ClientID     string         `db:"client_id"`
	UserID       string         `db:"user_id"`
	AccountID    string         `db:"account_id"`
	Scopes       string         `db:"scopes"`
	Method       string         `db:"credential_method"`
	ConnectionID string         `db:"connection_id"`
	AuthTime     time.Time      `db:"auth_time"`
	CreatedAt    time.Time      `db:"created_at"`
	ExpiresAt    time.Time      `db:"expires_at"`
	UsedAt       sql.NullTime   `db:"used_at"`
}

const appTokenColumns = `id, kind, token_hash, family_id, client_id, user_id, account_id, scopes, credential_method, connection_id,
	auth_time, created_at, expires_at, used_at`

func (r appTokenRow) token() (directory.AppToken, error) {
	t := directory.AppToken{ID: r.ID, Kind: directory.TokenKind(r.Kind), Hash: r.Hash.String, FamilyID: r.FamilyID, ClientID: r.ClientID,
		UserID: r.UserID, AccountID: r.AccountID, Credential: directory.Credential{Method: directory.SignInMethod(r.Method), ConnectionID: r.ConnectionID},
		AuthTime: r.AuthTime.UTC(), CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), UsedAt: optionalTime(r.UsedAt)}
	if err := json.Unmarshal([]byte(r.Scopes), &t.Scopes); err != nil {
		return t, fmt.Errorf("app token %s scopes: %w", r.ID, err)
	}
	return t, nil
}

// CreateAppToken stores a token.
func (s *Store) CreateAppToken(ctx context.Context, t directory.AppToken) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO app_tokens (`+appTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		t.ID, string(t.Kind), nullString(t.Hash), t.FamilyID, t.ClientID, t.UserID, t.AccountID, jsonList(t.Scopes),
		string(t.Credential.Method), t.Credential.ConnectionID, t.AuthTime, t.CreatedAt, t.ExpiresAt, t.UsedAt)
	return s.dialect.wrap(err, "insert app token")
}

func (s *Store) findAppToken(ctx context.Context, where, arg string) (directory.AppToken, error) {
	var r appTokenRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+appTokenColumns+` FROM app_tokens WHERE `+where), arg); err != nil {
		return directory.AppToken{}, s.dialect.wrap(err, "find app token")
	}
	return r.token()
}

// FindAppToken returns a token by id.
func (s *Store) FindAppToken(ctx context.Context, id string) (directory.AppToken, error) {
	return s.findAppToken(ctx, `id = ?`, id)
}

// FindAppTokenByHash returns the refresh token with a hash.
func (s *Store) FindAppTokenByHash(ctx context.Context, hash string) (directory.AppToken, error) {
	return s.findAppToken(ctx, `token_hash = ?`, hash)
}

// HoldAppRefreshToken locks the refresh token id and the live (unused)
// refresh tokens of its family until the transaction ends, and returns
// the token as it is now. Every rotation and reuse of a family's tokens
// locks its live ones first, so two of them take turns (on PostgreSQL;
// SQLite's writers take turns already), and so does an end of the tokens
// (deleteAppTokens), which locks them in the same order, by id, so that
// neither can wait on the other's rows in a circle.
func (s *Store) HoldAppRefreshToken(ctx context.Context, familyID, id string) (directory.AppToken, error) {
	var rows []appTokenRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+appTokenColumns+` FROM app_tokens t
		WHERE family_id = ? AND kind = 'refresh' AND (used_at IS NULL OR id = ?) ORDER BY id`+s.dialect.lockRows("t")), familyID, id); err != nil {
		return directory.AppToken{}, s.dialect.wrap(err, "hold app refresh token")
	}
	for _, r := range rows {
		if r.ID == id {
			return r.token()
		}
	}
	return directory.AppToken{}, directory.NotFoundError("refresh token not found")
}

// UseAppTokenFamily marks the live refresh tokens of a family used.
func (s *Store) UseAppTokenFamily(ctx context.Context, familyID string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE app_tokens SET used_at = ? WHERE family_id = ? AND kind = 'refresh' AND used_at IS NULL`), at, familyID)
	return s.dialect.wrap(err, "use app token family")
}

// DeleteAppTokenFamily deletes the tokens of one sign-in.
func (s *Store) DeleteAppTokenFamily(ctx context.Context, familyID string) error {
	return s.deleteAppTokens(ctx, "app token family", `family_id = ?`, familyID)
}

// DeleteAppTokensOfSignIn deletes a person's tokens at one app issued in
// the sign-ins begun in [from, to).
func (s *Store) DeleteAppTokensOfSignIn(ctx context.Context, userID, clientID string, from, to time.Time) error {
	return s.deleteAppTokens(ctx, "app tokens of a sign-in", `user_id = ? AND client_id = ? AND auth_time >= ? AND auth_time < ?`,
		userID, clientID, from.UTC(), to.UTC())
}

// deleteAppTokens deletes the tokens where selects, in a transaction
// that locks them first. A refresh in flight holds the refresh token it
// uses (HoldAppRefreshToken) until its new tokens are stored: locking
// waits for it, and the DELETE after, a statement of its own, sees those
// new tokens and deletes them too. A DELETE alone waits on that row but
// deletes only the rows there were when it started, and the refresh's
// tokens would outlive the end of the sign-in, the family or the
// membership. The lock takes the rows by id, as HoldAppRefreshToken does.
func (s *Store) deleteAppTokens(ctx context.Context, what, where string, args ...any) error {
	return s.within(ctx, func(s *Store) error {
		if lock := s.dialect.lockRows("t"); lock != "" {
			var ids []string
			if err := sqlx.SelectContext(ctx, s.q, &ids, s.rebind(`SELECT id FROM app_tokens t WHERE `+where+` ORDER BY id`+lock), args...); err != nil {
				return s.dialect.wrap(err, "lock "+what)
			}
		}
		_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_tokens WHERE `+where), args...)
		return s.dialect.wrap(err, "delete "+what)
	})
}

// DeleteExpiredAppState deletes authorizations and tokens past their end.
func (s *Store) DeleteExpiredAppState(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, q := range []string{`DELETE FROM app_authorizations WHERE expires_at < ?`, `DELETE FROM app_tokens WHERE expires_at < ?`,
		`DELETE FROM app_sign_ins WHERE expires_at < ?`, `DELETE FROM app_sign_in_sessions WHERE expires_at < ?`} {
		res, err := s.q.ExecContext(ctx, s.rebind(q), now)
		if err != nil {
			return total, s.dialect.wrap(err, "delete expired app state")
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// FindGroupNamesOfMember returns the names of the person's SCIM groups in
// the account and of the groups their last SSO login sent, each once.
func (s *Store) FindGroupNamesOfMember(ctx context.Context, accountID, userID string) ([]string, error) {
	var names []string
	if err := sqlx.SelectContext(ctx, s.q, &names, s.rebind(`SELECT g.display_name FROM group_members gm JOIN groups g ON g.id = gm.group_id
		WHERE g.account_id = ? AND gm.user_id = ?`), accountID, userID); err != nil {
		return nil, s.dialect.wrap(err, "find groups of member")
	}
	var sso []byte
	if err := sqlx.GetContext(ctx, s.q, &sso, s.rebind(`SELECT sso_groups FROM memberships WHERE account_id = ? AND user_id = ?`), accountID, userID); err != nil {
		return nil, s.dialect.wrap(err, "find SSO groups of member")
	}
	var asserted []string
	if err := json.Unmarshal(sso, &asserted); err != nil {
		return nil, fmt.Errorf("SSO groups of member: %w", err)
	}
	names = append(names, asserted...)
	slices.Sort(names)
	return slices.Compact(names), nil
}

// RecordAppSignIn remembers (or renews) a person's sign-in to an app, and
// the admit session it came through when authTime is known.
func (s *Store) RecordAppSignIn(ctx context.Context, clientID, accountID, userID string, authTime, at, expiresAt time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO app_sign_ins (client_id, account_id, user_id, signed_in_at, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (client_id, account_id, user_id) DO UPDATE SET signed_in_at = excluded.signed_in_at, expires_at = excluded.expires_at`),
		clientID, accountID, userID, at, expiresAt)
	if err != nil || authTime.IsZero() {
		return s.dialect.wrap(err, "record app sign-in")
	}
	_, err = s.q.ExecContext(ctx, s.rebind(`INSERT INTO app_sign_in_sessions (client_id, account_id, user_id, auth_time, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (client_id, account_id, user_id, auth_time) DO UPDATE SET expires_at = excluded.expires_at`),
		clientID, accountID, userID, authTime.UTC(), expiresAt)
	return s.dialect.wrap(err, "record app sign-in session")
}

// FindAppSignIns returns the apps with a live sign-in of the person in the
// account, each with the sessions recorded for it. A session is counted
// only under a live sign-in of its app: a replica of the previous version
// deletes sign-ins without their sessions, which then wait for the sweep.
func (s *Store) FindAppSignIns(ctx context.Context, accountID, userID string, now time.Time) ([]directory.AppSignIns, error) {
	var rows []appRow
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+prefixed("a.", appColumns)+` FROM app_sign_ins si JOIN apps a ON a.client_id = si.client_id
		WHERE si.account_id = ? AND si.user_id = ? AND si.expires_at > ? ORDER BY a.created_at, a.id`), accountID, userID, now)
	if err != nil {
		return nil, s.dialect.wrap(err, "find apps signed into")
	}
	var sessions []struct {
		ClientID string    `db:"client_id"`
		AuthTime time.Time `db:"auth_time"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &sessions, s.rebind(`SELECT client_id, auth_time FROM app_sign_in_sessions
		WHERE account_id = ? AND user_id = ? AND expires_at > ? ORDER BY auth_time`), accountID, userID, now); err != nil {
		return nil, s.dialect.wrap(err, "find app sign-in sessions")
	}
	authTimes := map[string][]time.Time{}
	for _, se := range sessions {
		authTimes[se.ClientID] = append(authTimes[se.ClientID], se.AuthTime.UTC())
	}
	out := make([]directory.AppSignIns, len(rows))
	for i, r := range rows {
		if out[i].App, err = r.app(); err != nil {
			return nil, err
		}
		out[i].AuthTimes = authTimes[out[i].App.ClientID]
	}
	return out, nil
}

// DeleteAppSignIns forgets sign-ins of a person, and their sessions: to
// one app or all, in one account or all.
func (s *Store) DeleteAppSignIns(ctx context.Context, accountID, userID, clientID string) error {
	for _, table := range []string{"app_sign_ins", "app_sign_in_sessions"} {
		query, args := `DELETE FROM `+table+` WHERE user_id = ?`, []any{userID}
		if accountID != "" {
			query, args = query+` AND account_id = ?`, append(args, accountID)
		}
		if clientID != "" {
			query, args = query+` AND client_id = ?`, append(args, clientID)
		}
		if _, err := s.q.ExecContext(ctx, s.rebind(query), args...); err != nil {
			return s.dialect.wrap(err, "delete app sign-ins")
		}
	}
	return nil
}

// DeleteAppTokensOfMembership deletes a person's tokens in one account.
func (s *Store) DeleteAppTokensOfMembership(ctx context.Context, accountID, userID string) error {
	// Authorizations in flight (a code not exchanged yet): few, each
	// living minutes, so the table is read whole rather than indexed.
	// They go first: an exchange issuing a code's tokens holds its
	// authorization (HoldAppAuthorization), so on PostgreSQL this waits
	// for those tokens, and the delete of tokens below, a statement of its
	// own, sees them.
	if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_authorizations WHERE account_id = ? AND user_id = ?`), accountID, userID); err != nil {
		return s.dialect.wrap(err, "delete app authorizations of membership")
	}
	// Likewise a refresh in flight holds the refresh token it uses: see
	// deleteAppTokens.
	return s.deleteAppTokens(ctx, "app tokens of membership", `account_id = ? AND user_id = ?`, accountID, userID)
}

// FindAppSignInsOfSession returns the person's live sign-ins made through
// their admit session begun at authTime, app by app and account by account.
func (s *Store) FindAppSignInsOfSession(ctx context.Context, userID string, authTime, now time.Time) ([]directory.AppSessionSignIn, error) {
	var rows []struct {
		appRow
		SignInAccount string `db:"sign_in_account_id"`
	}
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+prefixed("a.", appColumns)+`, ss.account_id AS sign_in_account_id
		FROM app_sign_in_sessions ss JOIN apps a ON a.client_id = ss.client_id
		WHERE ss.user_id = ? AND ss.auth_time = ? AND ss.expires_at > ? ORDER BY a.created_at, a.id, ss.account_id`), userID, authTime.UTC(), now)
	if err != nil {
		return nil, s.dialect.wrap(err, "find app sign-ins of a session")
	}
	out := make([]directory.AppSessionSignIn, len(rows))
	for i, r := range rows {
		if out[i].App, err = r.app(); err != nil {
			return nil, err
		}
		out[i].AccountID = r.SignInAccount
	}
	return out, nil
}

// DeleteAppSignInsOfSession forgets the person's sign-ins made through
// their admit session begun at authTime, and each app sign-in left without
// a session: it would otherwise name the person alone in a later
// back-channel logout, for an app session already told of.
func (s *Store) DeleteAppSignInsOfSession(ctx context.Context, userID string, authTime time.Time) error {
	var touched []struct {
		ClientID  string `db:"client_id"`
		AccountID string `db:"account_id"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &touched, s.rebind(`SELECT client_id, account_id FROM app_sign_in_sessions WHERE user_id = ? AND auth_time = ?`),
		userID, authTime.UTC()); err != nil {
		return s.dialect.wrap(err, "find app sign-ins of a session")
	}
	if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_sign_in_sessions WHERE user_id = ? AND auth_time = ?`), userID, authTime.UTC()); err != nil {
		return s.dialect.wrap(err, "delete app sign-ins of a session")
	}
	for _, t := range touched {
		if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_sign_ins WHERE client_id = ? AND account_id = ? AND user_id = ?
			AND NOT EXISTS (SELECT 1 FROM app_sign_in_sessions ss WHERE ss.client_id = app_sign_ins.client_id AND ss.account_id = app_sign_ins.account_id AND ss.user_id = app_sign_ins.user_id)`),
			t.ClientID, t.AccountID, userID); err != nil {
			return s.dialect.wrap(err, "delete app sign-ins left without a session")
		}
	}
	return nil
}

// DeleteAppTokensOfSession deletes the person's tokens and authorizations
// in flight that their admit session begun at authTime gave, in any
// account, waiting for an exchange or refresh in flight as
// DeleteAppTokensOfMembership does.
func (s *Store) DeleteAppTokensOfSession(ctx context.Context, userID string, authTime time.Time) error {
	if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_authorizations WHERE user_id = ? AND auth_time = ?`), userID, authTime.UTC()); err != nil {
		return s.dialect.wrap(err, "delete app authorizations of a session")
	}
	if lock := s.dialect.lockRows("t"); lock != "" {
		var ids []string
		if err := sqlx.SelectContext(ctx, s.q, &ids, s.rebind(`SELECT id FROM app_tokens t WHERE user_id = ? AND auth_time = ?`+lock), userID, authTime.UTC()); err != nil {
			return s.dialect.wrap(err, "lock app tokens of a session")
		}
	}
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_tokens WHERE user_id = ? AND auth_time = ?`), userID, authTime.UTC())
	return s.dialect.wrap(err, "delete app tokens of a session")
}

type appLogoutRow struct {
	ID            string       `db:"id"`
	ClientID      string       `db:"client_id"`
	AccountID     string       `db:"account_id"`
	UserID        string       `db:"user_id"`
	AuthTime      sql.NullTime `db:"auth_time"`
	CreatedAt     time.Time    `db:"created_at"`
	NextAttemptAt time.Time    `db:"next_attempt_at"`
	Attempts      int          `db:"attempts"`
	LastError     string       `db:"last_error"`
}

const appLogoutColumns = `id, client_id, account_id, user_id, auth_time, created_at, next_attempt_at, attempts, last_error`

// CreateAppLogout queues a back-channel logout.
func (s *Store) CreateAppLogout(ctx context.Context, l directory.AppLogout) error {
	authTime := sql.NullTime{Time: l.AuthTime.UTC(), Valid: !l.AuthTime.IsZero()}
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO app_logouts (id, client_id, account_id, user_id, auth_time, created_at, next_attempt_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), l.ID, l.ClientID, l.AccountID, l.UserID, authTime, l.CreatedAt, l.NextAttemptAt)
	return s.dialect.wrap(err, "insert app logout")
}

// ClaimAppLogouts locks up to limit logouts due at now until lockedUntil,
// counting an attempt on each; concurrent callers get different ones.
func (s *Store) ClaimAppLogouts(ctx context.Context, now, lockedUntil time.Time, limit int) ([]directory.AppLogout, error) {
	// Every replica asks every second and almost always finds nothing: a
	// read first, so that finding nothing writes nothing (on SQLite a write
	// would take the one writer's lock each time).
	var due int
	if err := sqlx.GetContext(ctx, s.q, &due, s.rebind(`SELECT COUNT(*) FROM (SELECT 1 FROM app_logouts
		WHERE next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?) LIMIT 1) d`), now, now); err != nil {
		return nil, s.dialect.wrap(err, "find due app logouts")
	}
	if due == 0 {
		return nil, nil
	}
	var rows []appLogoutRow
	err := s.within(ctx, func(s *Store) error {
		return sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`UPDATE app_logouts SET locked_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM app_logouts
				WHERE next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)
				ORDER BY next_attempt_at LIMIT ?`+s.dialect.skipLocked+`)
			RETURNING `+appLogoutColumns), lockedUntil, now, now, limit)
	})
	if err != nil {
		return nil, s.dialect.wrap(err, "claim app logouts")
	}
	out := make([]directory.AppLogout, len(rows))
	for i, r := range rows {
		out[i] = directory.AppLogout{ID: r.ID, ClientID: r.ClientID, AccountID: r.AccountID, UserID: r.UserID, CreatedAt: r.CreatedAt.UTC(),
			NextAttemptAt: r.NextAttemptAt.UTC(), Attempts: r.Attempts, LastError: r.LastError}
		if r.AuthTime.Valid {
			out[i].AuthTime = r.AuthTime.Time.UTC()
		}
	}
	return out, nil
}

// RetryAppLogout puts a logout back for a later attempt.
func (s *Store) RetryAppLogout(ctx context.Context, id, lastError string, next time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE app_logouts SET last_error = ?, next_attempt_at = ?, locked_until = NULL WHERE id = ?`),
		lastError, next, id)
	if err != nil {
		return s.dialect.wrap(err, "retry app logout")
	}
	return expectOne(res, "app logout")
}

// DeleteAppLogout deletes a delivered (or given up) logout.
func (s *Store) DeleteAppLogout(ctx context.Context, id string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM app_logouts WHERE id = ?`), id)
	return s.dialect.wrap(err, "delete app logout")
}
