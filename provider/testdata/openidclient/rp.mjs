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
  console.log(JSON.stringify({ claims, userinfo }))
  break
}
