// A Node.js web app that signs its users in through admit's OpenID
// provider with openid-client (the certified relying-party library), using
// the authorization code flow with PKCE. Node's own http module serves it,
// so openid-client is its only dependency.
//
// Register it with admit (make demo does this for you):
//   admit app add --name "Node.js app" --account acme --redirect-uri http://127.0.0.1:8086/callback
// then, with what that printed:
//   npm ci
//   ADMIT_ISSUER=http://localhost:8080 APP_URL=http://127.0.0.1:8086 CLIENT_ID=app_… CLIENT_SECRET=… node app.mjs
import http from 'node:http'
import { randomBytes } from 'node:crypto'
import * as client from 'openid-client'

const issuer = new URL(process.env.ADMIT_ISSUER ?? 'http://localhost:8080')
const appURL = new URL(process.env.APP_URL ?? 'http://127.0.0.1:8086')
const { CLIENT_ID, CLIENT_SECRET } = process.env
if (!CLIENT_ID || !CLIENT_SECRET) {
  console.error('set CLIENT_ID and CLIENT_SECRET to what `admit app add` printed')
  process.exit(1)
}
const redirectURI = new URL('/callback', appURL).href

// Plain http is for a local admit only (make demo); in production the
// issuer is https and this option goes.
const options = issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined
const config = await client.discovery(issuer, CLIENT_ID, CLIENT_SECRET, undefined, options)

const pending = new Map() // state -> PKCE verifier
const sessions = new Map() // session cookie -> ID token claims

function cookie(req, name) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page(res, claims) {
  const rows = Object.entries(claims)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `<tr><th>${escape(k)}</th><td><code>${escape(typeof v === 'string' ? v : JSON.stringify(v))}</code></td></tr>`)
    .join('')
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Node.js app</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 48rem; margin: 3rem auto">
<h1 id="greeting">Welcome, ${escape(claims.name)} of ${escape(claims.account?.name ?? 'your account')}</h1>
<p>This Node.js app signed you in through admit. The ID token's claims:</p><table>${rows}</table></body></html>`)
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, appURL)
  try {
    if (url.pathname === '/') {
      const claims = sessions.get(cookie(req, 'node_app_session'))
      if (claims) return page(res, claims)
      res.writeHead(302, { Location: '/login' }).end()
    } else if (url.pathname === '/login') {
      const verifier = client.randomPKCECodeVerifier()
      const state = client.randomState()
      pending.set(state, verifier)
      const to = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectURI,
        scope: 'openid email profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      })
      res.writeHead(302, { Location: to.href }).end()
    } else if (url.pathname === '/callback') {
      const state = url.searchParams.get('state')
      const verifier = pending.get(state)
      pending.delete(state)
      if (!verifier) {
        res.writeHead(400).end('unknown state: start again at /')
        return
      }
      const tokens = await client.authorizationCodeGrant(config, url, { pkceCodeVerifier: verifier, expectedState: state })
      const session = randomBytes(16).toString('base64url')
      sessions.set(session, tokens.claims())
      res.writeHead(302, { Location: '/', 'Set-Cookie': `node_app_session=${session}; Path=/; HttpOnly; SameSite=Lax` }).end()
    } else {
      res.writeHead(404).end('not found')
    }
  } catch (err) {
    console.error(err)
    res.writeHead(502).end(`signing in through admit failed: ${err.message}`)
  }
})
server.listen(Number(appURL.port), appURL.hostname, () => console.log(`listening on ${appURL.href}`))
