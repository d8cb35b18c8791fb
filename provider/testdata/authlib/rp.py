# An app that signs its users in through admit with Authlib (Debian's
# python3-authlib), as the README's Python snippet does, with Authlib's
# requests client in place of Flask's (provider/snippets_test.go runs it).
# Arguments: issuer, client id, client secret, redirect URI. It prints the
# authorization URL, reads the URL the browser came back to from stdin,
# and prints the ID token's claims and userinfo as one JSON line.
import json
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

issuer, client_id, client_secret, redirect_uri = sys.argv[1:5]
meta = requests.get(issuer + '/.well-known/openid-configuration', timeout=10).json()
session = OAuth2Session(client_id, client_secret, scope='openid profile email',
                        redirect_uri=redirect_uri, code_challenge_method='S256')
verifier, nonce = generate_token(48), generate_token(20)
url, _ = session.create_authorization_url(meta['authorization_endpoint'], code_verifier=verifier, nonce=nonce)
print(url, flush=True)

callback = sys.stdin.readline().strip()
token = session.fetch_token(meta['token_endpoint'], authorization_response=callback, code_verifier=verifier)
keys = JsonWebKey.import_key_set(requests.get(meta['jwks_uri'], timeout=10).json())
claims = jwt.decode(token['id_token'], keys, claims_options={
    'iss': {'essential': True, 'value': meta['issuer']},
    'aud': {'essential': True, 'value': client_id},
    'nonce': {'essential': True, 'value': nonce},
})
claims.validate()
userinfo = session.get(meta['userinfo_endpoint'], timeout=10).json()
# Beyond the snippet: introspection and revocation as Authlib does them
# (client_secret_basic), and what userinfo answers a revoked token.
introspection = session.introspect_token(meta['introspection_endpoint'], token=token['access_token'], timeout=10).json()
revocation = session.revoke_token(meta['revocation_endpoint'], token=token['access_token'], timeout=10)
revoked = session.get(meta['userinfo_endpoint'], timeout=10)
print(json.dumps({'claims': dict(claims), 'userinfo': userinfo,
                  'introspection': {'active': introspection.get('active'), 'client_id': introspection.get('client_id')},
                  'revocation': revocation.status_code,
                  'revokedUserinfo': {'status': revoked.status_code, 'challenge': revoked.headers.get('WWW-Authenticate'),
                                      'error': revoked.json().get('error')}}), flush=True)
