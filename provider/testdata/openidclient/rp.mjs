// An app that signs its users in through admit with openid-client, as the
// README's Node.js snippet does (provider/snippets_test.go runs it).
// Arguments: issuer, client id, client secret, redirect URI. It prints the
// authorization URL, reads the URL the browser came back to from stdin,
// and prints the ID token's claims and userinfo as one JSON line.
import * as readline from 'node:readline'
import * as client from 'openid-client'

const [issuer, clientId, clientSecret, redirectUri] = process.argv.slice(2)
// The test's admit is on http://127.0.0.1; a real one is on https.
const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, { execute: [client.allowInsecureRequests] })

const verifier = client.randomPKCECodeVerifier()
const state = client.randomState()
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: 'openid profile email',
  code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state,
})
console.log(url.href)

const lines = readline.createInterface({ input: process.stdin })
for await (const line of lines) {
  const tokens = await client.authorizationCodeGrant(config, new URL(line), { pkceCodeVerifier: verifier, expectedState: state })
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  // Beyond the snippet: the endpoints and errors an app meets next, as
  // openid-client reads them (client_secret_post, its default).
  const introspection = await client.tokenIntrospection(config, tokens.access_token)
  await client.tokenRevocation(config, tokens.access_token)
  const refusal = async (call) => {
    try { await call(); return null } catch (e) {
      return { name: e.name, error: e.error ?? null, status: e.status ?? e.response?.status ?? null,
        challenges: (e.cause instanceof Array ? e.cause : []).map((c) => ({ scheme: c.scheme, error: c.parameters?.error ?? null })) }
    }
  }
  const revokedUserinfo = await refusal(() => client.fetchUserInfo(config, tokens.access_token, claims.sub))
  const wrong = await client.discovery(new URL(issuer), clientId, 'wrong secret', undefined, { execute: [client.allowInsecureRequests] })
  const wrongSecret = await refusal(() => client.tokenIntrospection(wrong, tokens.access_token))
  console.log(JSON.stringify({ claims, userinfo, introspection: { active: introspection.active, client_id: introspection.client_id }, revokedUserinfo, wrongSecret }))
  break
}
