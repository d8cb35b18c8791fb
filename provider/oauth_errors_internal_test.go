package provider

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestServerErrorsStayServerErrors: op answers a storage fault during
// client authentication at introspection as 401 text, and one while
// reading the token at userinfo as 403 JSON, and logs neither; admit
// answers them 500 server_error (not invalid_client, which tells the app
// its secret is wrong, nor invalid_token, which signs the person out) and
// logs them at ERROR. A refused client at introspection is logged at INFO
// (op logs it at the token endpoint, not here) without its secret.
func TestServerErrorsStayServerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, path, contentType, body string
		status                        int
		form                          string
		wantStatus                    int
		wantCode, wantLevel           string
	}{
		{name: "introspection, storage fault", path: introspectionPath, contentType: "text/plain; charset=utf-8",
			body: "ErrorType=server_error Parent=no such table: apps\n", status: 401,
			form: "client_id=c1&client_secret=s3cr3t&token=t0k3n", wantStatus: 500, wantCode: "server_error", wantLevel: "level=ERROR"},
		{name: "introspection, wrong secret", path: introspectionPath, contentType: "text/plain; charset=utf-8",
			body: "ErrorType=unauthorized_client Parent=unknown client or wrong secret\n", status: 401,
			form: "client_id=c1&client_secret=s3cr3t&token=t0k3n", wantStatus: 401, wantCode: "invalid_client", wantLevel: "level=INFO"},
		{name: "revocation, wrong secret", path: revocationPath, contentType: "application/json",
			body: `{"error":"invalid_client"}`, status: 401,
			form: "client_id=c1&client_secret=s3cr3t&token=t0k3n", wantStatus: 401, wantCode: "invalid_client", wantLevel: "level=INFO"},
		{name: "userinfo, storage fault", path: userinfoPath, contentType: "application/json",
			body: `{"error":"server_error"}`, status: 403,
			form: "access_token=t0k3n", wantStatus: 500, wantCode: "server_error"},
		{name: "userinfo, refused", path: userinfoPath, contentType: "application/json",
			body: `{"error":"access_denied","error_description":"the access token is not valid"}`, status: 403,
			form: "access_token=t0k3n", wantStatus: 401, wantCode: "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			h := &Handler{log: slog.New(slog.NewTextHandler(&log, nil))}
			r := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			_ = r.ParseForm()
			w := httptest.NewRecorder()
			w.Header().Set("Content-Type", tc.contentType)
			h.writeOAuthError(w, r, tc.status, []byte(tc.body))
			var got struct{ Error string }
			_ = json.Unmarshal(w.Body.Bytes(), &got)
			if w.Code != tc.wantStatus || got.Error != tc.wantCode {
				t.Errorf("%d %s; want %d %s", w.Code, w.Body, tc.wantStatus, tc.wantCode)
			}
			if !strings.Contains(log.String(), tc.wantLevel) {
				t.Errorf("logged %q; want a line at %s", log.String(), tc.wantLevel)
			}
			for _, secret := range []string{"s3cr3t", "t0k3n"} {
				if strings.Contains(log.String()+w.Body.String(), secret) {
					t.Errorf("%q is in the log or the answer: %s %s", secret, log.String(), w.Body)
				}
			}
		})
	}
}
