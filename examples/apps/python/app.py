"""A Python web app that signs its users in through admit's OpenID provider
with Authlib, using the authorization code flow with PKCE and a nonce.
The standard library's http.server serves it; Authlib and requests are its
only dependencies (Debian: python3-authlib python3-requests).

Register it with admit (make demo does this for you):
  admit app add --name "Python app" --account acme --redirect-uri http://127.0.0.1:8087/callback
then, with what that printed:
  ADMIT_ISSUER=http://localhost:8080 APP_URL=http://127.0.0.1:8087 CLIENT_ID=app_... CLIENT_SECRET=... python3 app.py
"""
import html
import json
import os
import secrets
import sys
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

ISSUER = os.environ.get("ADMIT_ISSUER", "http://localhost:8080")
APP_URL = os.environ.get("APP_URL", "http://127.0.0.1:8087")
CLIENT_ID = os.environ.get("CLIENT_ID")
CLIENT_SECRET = os.environ.get("CLIENT_SECRET")
if not CLIENT_ID or not CLIENT_SECRET:
    sys.exit("set CLIENT_ID and CLIENT_SECRET to what `admit app add` printed")
if ISSUER.startswith("http://"):
    # Plain http is for a local admit only (make demo); in production the
    # issuer is https and this line goes.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

META = requests.get(ISSUER + "/.well-known/openid-configuration", timeout=10).json()
KEYS = JsonWebKey.import_key_set(requests.get(META["jwks_uri"], timeout=10).json())
REDIRECT_URI = APP_URL + "/callback"

pending = {}  # state -> (PKCE verifier, nonce)
sessions = {}  # session cookie -> ID token claims


def oauth():
    return OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="openid email profile",
                         redirect_uri=REDIRECT_URI, code_challenge_method="S256")


class App(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        try:
            if url.path == "/":
                self.home()
            elif url.path == "/login":
                self.login()
            elif url.path == "/callback":
                self.callback(parse_qs(url.query))
            else:
                self.send_error(404)
        except Exception as err:  # a refusal from admit, shown to the person
            self.send_error(502, "signing in through admit failed: %s" % err)

    def home(self):
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        claims = sessions.get(cookie["python_app_session"].value) if "python_app_session" in cookie else None
        if claims is None:
            return self.redirect("/login")
        account = (claims.get("account") or {}).get("name", "your account")
        rows = "".join("<tr><th>%s</th><td><code>%s</code></td></tr>" % (
            html.escape(k), html.escape(v if isinstance(v, str) else json.dumps(v))) for k, v in sorted(claims.items()))
        body = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Python app</title></head>"
                "<body style=\"font-family: system-ui, sans-serif; max-width: 48rem; margin: 3rem auto\">"
                "<h1 id=\"greeting\">Welcome, %s of %s</h1><p>This Python app signed you in through admit."
                " The ID token's claims:</p><table>%s</table></body></html>") % (
            html.escape(claims.get("name", "")), html.escape(account), rows)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def login(self):
        verifier, nonce = generate_token(48), generate_token(20)
        uri, state = oauth().create_authorization_url(META["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        pending[state] = (verifier, nonce)
        self.redirect(uri)

    def callback(self, query):
        if "error" in query:
            raise ValueError(query["error"][0])
        state = query.get("state", [""])[0]
        if state not in pending:
            return self.send_error(400, "unknown state: start again at /")
        verifier, nonce = pending.pop(state)
        token = oauth().fetch_token(META["token_endpoint"], authorization_response=APP_URL + self.path,
                                    code_verifier=verifier, state=state)
        claims = jwt.decode(token["id_token"], KEYS, claims_cls=CodeIDToken,
                            claims_options={"iss": {"essential": True, "value": META["issuer"]},
                                            "aud": {"essential": True, "value": CLIENT_ID}},
                            claims_params={"nonce": nonce})
        claims.validate()
        session = secrets.token_urlsafe(16)
        sessions[session] = dict(claims)
        self.send_response(302)
        self.send_header("Location", "/")
        self.send_header("Set-Cookie", "python_app_session=%s; Path=/; HttpOnly; SameSite=Lax" % session)
        self.end_headers()

    def redirect(self, to):
        self.send_response(302)
        self.send_header("Location", to)
        self.end_headers()


if __name__ == "__main__":
    address = urlsplit(APP_URL)
    print("listening on", APP_URL, flush=True)
    ThreadingHTTPServer((address.hostname, address.port), App).serve_forever()
