// A SAML identity provider written with samlify, a Node.js SAML library
// that shares no code with crewjam/saml: admit's end-to-end tests use it so
// that what admit accepts is not only what crewjam's own samlidp emits.
// sso/nodeidp_test.go starts it; nothing else should.
//
// Environment:
//   IDP_KEY_FILE, IDP_CERT_FILE  PEM signing key and certificate
//   IDP_PORT                     port on 127.0.0.1 (0 or unset: any free one)
//
// Once listening it prints one line, "listening on http://127.0.0.1:PORT".
//
// Routes:
//   GET  /metadata             IdP metadata (signing certificate, HTTP-Redirect SSO)
//   GET  /sso                  SP-initiated login: a signed AuthnRequest by
//                              HTTP-Redirect, answered with an auto-post form
//   PUT  /test/sp?encrypt=1    register an SP from its metadata (the body)
//   PUT  /test/user            the person the next logins are for (JSON:
//                              nameid, email, given_name, surname, groups)
//   GET  /test/initiate?sp=ID&relay_state=R   IdP-initiated login to SP ID
//   GET  /test/logout?sp=ID&binding=redirect|post&relay_state=R&sign=0
//                              IdP-initiated single logout: a LogoutRequest to
//                              SP ID for the person of the SP's last login (its
//                              NameID and SessionIndex; nameid= and
//                              session_index= override them), signed unless
//                              sign=0: a redirect, or an auto-post form
//   GET, POST /slo             single logout endpoint: an SP's LogoutRequest
//                              (verified, answered with a signed LogoutResponse
//                              by HTTP-Redirect), or an SP's LogoutResponse to
//                              ours (verified; the answer is 200 "verified" and
//                              what it said, or 400 and why not)
//   PUT  /test/logout-status   the status code of the next answers to SPs'
//                              LogoutRequests (the body; empty: Success)
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const samlify = require('samlify');
const xmllint = require('@authenio/samlify-node-xmllint');

// Inbound AuthnRequests are checked against the SAML schema, so the test
// also learns whether admit's requests are schema-valid.
samlify.setSchemaValidator(xmllint);

const { namespace } = samlify.Constants;
const key = fs.readFileSync(process.env.IDP_KEY_FILE, 'utf8');
const cert = fs.readFileSync(process.env.IDP_CERT_FILE, 'utf8');

const sps = new Map(); // entity id -> { sp, encrypt }
let user = { nameid: 'alice-0001', email: 'alice@example.com', given_name: 'Alice', surname: 'Smith', groups: [] };
let idps; // { plain, encrypting }, made once the port is known
const lastLogins = new Map(); // SP entity id -> { nameid, sessionIndex }
let logoutStatus = ''; // the status of the next LogoutResponses ('' = Success)

function makeIdPs(base) {
  const settings = {
    entityID: base + '/metadata',
    signingCert: cert,
    privateKey: key,
    wantAuthnRequestsSigned: true,
    nameIDFormat: [namespace.format.persistent],
    singleSignOnService: [{ Binding: namespace.binding.redirect, Location: base + '/sso' }],
    singleLogoutService: [
      { Binding: namespace.binding.redirect, Location: base + '/slo' },
      { Binding: namespace.binding.post, Location: base + '/slo' },
    ],
    // What SPs send to /slo must be signed.
    wantLogoutRequestSigned: true,
    wantLogoutResponseSigned: true,
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  };
  return {
    plain: samlify.IdentityProvider(settings),
    encrypting: samlify.IdentityProvider({ ...settings, isAssertionEncrypted: true }),
  };
}

function escapeXML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

// attributeStatement names the attributes the way the SAML2 interop
// profiles (eduPerson, Shibboleth) do: OID names with friendly names.
// samlify's own attribute template holds one value per attribute; groups
// need several.
function attributeStatement(u) {
  const attr = (name, friendly, values) =>
    `<saml:Attribute Name="${name}" FriendlyName="${friendly}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">` +
    values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXML(v)}</saml:AttributeValue>`).join('') +
    '</saml:Attribute>';
  const attrs = [
    attr('urn:oid:0.9.2342.19200300.100.1.3', 'mail', [u.email]),
    attr('urn:oid:2.5.4.42', 'givenName', [u.given_name]),
    attr('urn:oid:2.5.4.4', 'sn', [u.surname]),
  ];
  if (u.groups && u.groups.length) attrs.push(attr('urn:oid:1.3.6.1.4.1.5923.1.5.1.1', 'isMemberOf', u.groups));
  return `<saml:AttributeStatement>${attrs.join('')}</saml:AttributeStatement>`;
}

// respond builds a signed Response for the current user; inResponseTo is
// undefined for an IdP-initiated login (samlify then drops the attribute).
async function respond(res, entry, inResponseTo, relayState) {
  const idp = entry.encrypt ? idps.encrypting : idps.plain;
  const sp = entry.sp;
  const acs = sp.entityMeta.getAssertionConsumerService('post');
  const u = user;
  const now = new Date();
  const later = new Date(now.getTime() + 5 * 60 * 1000);
  const id = idp.entitySetting.generateID();
  const sessionIndex = idp.entitySetting.generateID();
  lastLogins.set(sp.entityMeta.getEntityID(), { nameid: u.nameid, sessionIndex });
  const customTagReplacement = (template) => {
    const statements = template
      .replace('{AuthnStatement}',
        `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${sessionIndex}">` +
        '<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>')
      .replace('{AttributeStatement}', attributeStatement(u));
    const context = samlify.SamlLib.replaceTagsByValue(statements, {
      ID: id,
      AssertionID: idp.entitySetting.generateID(),
      Destination: acs,
      Audience: sp.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      StatusCode: namespace.statusCode.success,
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
      NameIDFormat: namespace.format.persistent,
      NameID: u.nameid,
      InResponseTo: inResponseTo,
    });
    return { id, context };
  };
  const out = await idp.createLoginResponse(sp, null, 'post', u, { customTagReplacement, relayState });
  // The usual auto-post page; the test reads its action and fields.
  let form = `<form method="post" action="${escapeXML(out.entityEndpoint)}">` +
    `<input type="hidden" name="SAMLResponse" value="${escapeXML(out.context)}">`;
  if (relayState) form += `<input type="hidden" name="RelayState" value="${escapeXML(relayState)}">`;
  form += '<noscript><button>Continue</button></noscript></form><script>document.forms[0].submit()</script>';
  send(res, 200, 'text/html; charset=utf-8', `<!doctype html><html><body>${form}</body></html>`);
}

// octetString is what an HTTP-Redirect signature covers: the parameters
// exactly as they were encoded in the URL, in the spec's order
// (saml-bindings 3.4.4.1), not re-encoded by this side.
function octetString(rawQuery) {
  const raw = {};
  for (const part of rawQuery.split('&')) {
    const i = part.indexOf('=');
    if (i > 0) raw[part.slice(0, i)] = part.slice(i + 1);
  }
  return ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg'].filter((k) => k in raw).map((k) => `${k}=${raw[k]}`).join('&');
}

// issuerOf finds which SP sent the request, to verify it with that SP's key.
function issuerOf(samlRequest) {
  const xml = zlib.inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8');
  const m = /<(?:\w+:)?Issuer[^>]*>([^<]+)<\/(?:\w+:)?Issuer>/.exec(xml);
  return m ? m[1].trim() : '';
}

async function handleSSO(req, res, url) {
  const query = Object.fromEntries(url.searchParams);
  if (!query.SAMLRequest) return send(res, 400, 'text/plain', 'no SAMLRequest');
  const entry = sps.get(issuerOf(query.SAMLRequest));
  if (!entry) return send(res, 400, 'text/plain', 'unknown service provider ' + issuerOf(query.SAMLRequest));
  const idp = entry.encrypt ? idps.encrypting : idps.plain;
  let parsed;
  try {
    parsed = await idp.parseLoginRequest(entry.sp, 'redirect', { query, octetString: octetString(url.search.slice(1)) });
  } catch (err) {
    return send(res, 400, 'text/plain', 'AuthnRequest refused: ' + (err && err.message ? err.message : err));
  }
  await respond(res, entry, parsed.extract.request.id, query.RelayState);
}

// autoPost is the usual page whose form posts a SAML message on.
function autoPost(res, action, field, value, relayState) {
  let form = `<form method="post" action="${escapeXML(action)}">` +
    `<input type="hidden" name="${field}" value="${escapeXML(value)}">`;
  if (relayState) form += `<input type="hidden" name="RelayState" value="${escapeXML(relayState)}">`;
  form += '<noscript><button>Continue</button></noscript></form><script>document.forms[0].submit()</script>';
  send(res, 200, 'text/html; charset=utf-8', `<!doctype html><html><body>${form}</body></html>`);
}

// handleTestLogout starts an IdP-initiated single logout at an SP.
function handleTestLogout(res, url) {
  const q = url.searchParams;
  const entry = sps.get(q.get('sp'));
  if (!entry) return send(res, 404, 'text/plain', 'unknown service provider');
  const last = lastLogins.get(q.get('sp')) || {};
  const user = { logoutNameID: q.get('nameid') || last.nameid, sessionIndex: q.get('session_index') || last.sessionIndex };
  const binding = q.get('binding') || 'redirect';
  // The SP entity decides whether samlify signs what it sends it.
  const target = q.get('sign') === '0' ? entry.unsignedSP : entry.sp;
  const out = idps.plain.createLogoutRequest(target, binding, user, { relayState: q.get('relay_state') || '' });
  if (binding === 'redirect') {
    res.writeHead(302, { Location: out.context, 'Cache-Control': 'no-store' });
    return res.end();
  }
  autoPost(res, out.entityEndpoint, 'SAMLRequest', out.context, out.relayState);
}

// handleSLO is the IdP's single logout endpoint.
async function handleSLO(req, res, url) {
  const binding = req.method === 'GET' ? 'redirect' : 'post';
  let fields;
  let request;
  if (binding === 'redirect') {
    fields = Object.fromEntries(url.searchParams);
    request = { query: fields, octetString: octetString(url.search.slice(1)) };
  } else {
    fields = Object.fromEntries(new URLSearchParams(await readBody(req)));
    request = { body: fields };
  }
  const message = fields.SAMLRequest || fields.SAMLResponse;
  if (!message) return send(res, 400, 'text/plain', 'no SAMLRequest or SAMLResponse');
  const xml = binding === 'redirect'
    ? zlib.inflateRawSync(Buffer.from(message, 'base64')).toString('utf8')
    : Buffer.from(message, 'base64').toString('utf8');
  const m = /<(?:\w+:)?Issuer[^>]*>([^<]+)<\/(?:\w+:)?Issuer>/.exec(xml);
  const entry = sps.get(m ? m[1].trim() : '');
  if (!entry) return send(res, 400, 'text/plain', 'unknown service provider');
  const idp = idps.plain;
  if (fields.SAMLResponse) {
    try {
      const parsed = await idp.parseLogoutResponse(entry.sp, binding, request);
      return send(res, 200, 'application/json', JSON.stringify({ verified: true, extract: parsed.extract, relayState: fields.RelayState || '' }));
    } catch (err) {
      return send(res, 400, 'text/plain', 'LogoutResponse refused: ' + (err && err.message ? err.message : err));
    }
  }
  let parsed;
  try {
    parsed = await idp.parseLogoutRequest(entry.sp, binding, request);
  } catch (err) {
    return send(res, 400, 'text/plain', 'LogoutRequest refused: ' + (err && err.message ? err.message : err));
  }
  const options = { relayState: fields.RelayState };
  if (logoutStatus) {
    const destination = entry.sp.entityMeta.getSingleLogoutService('redirect');
    options.customTagReplacement = (template) => {
      const id = idp.entitySetting.generateID();
      return {
        id,
        context: samlify.SamlLib.replaceTagsByValue(template, {
          ID: id, Destination: destination, Issuer: idp.entityMeta.getEntityID(), EntityID: idp.entityMeta.getEntityID(),
          IssueInstant: new Date().toISOString(), StatusCode: logoutStatus, InResponseTo: parsed.extract.request.id,
        }),
      };
    };
  }
  const out = idp.createLogoutResponse(entry.sp, parsed, 'redirect', options);
  res.writeHead(302, { Location: out.context, 'Cache-Control': 'no-store' });
  res.end();
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

async function route(req, res) {
  const url = new URL(req.url, 'http://' + req.headers.host);
  const at = req.method + ' ' + url.pathname;
  switch (at) {
    case 'GET /metadata':
      return send(res, 200, 'application/samlmetadata+xml', idps.plain.getMetadata());
    case 'GET /sso':
      return handleSSO(req, res, url);
    case 'PUT /test/sp': {
      const metadata = await readBody(req);
      // Logout messages to the SP are signed (sp), or, for a test of the
      // SP's refusal, not (unsignedSP).
      const sp = samlify.ServiceProvider({ metadata, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
      const unsignedSP = samlify.ServiceProvider({ metadata, wantLogoutRequestSigned: false });
      sps.set(sp.entityMeta.getEntityID(), { sp, unsignedSP, encrypt: url.searchParams.get('encrypt') === '1' });
      return send(res, 204, 'text/plain', '');
    }
    case 'PUT /test/user':
      user = JSON.parse(await readBody(req));
      return send(res, 204, 'text/plain', '');
    case 'GET /test/logout':
      return handleTestLogout(res, url);
    case 'GET /slo':
    case 'POST /slo':
      return handleSLO(req, res, url);
    case 'PUT /test/logout-status':
      logoutStatus = (await readBody(req)).trim();
      return send(res, 204, 'text/plain', '');
    case 'GET /test/initiate': {
      const entry = sps.get(url.searchParams.get('sp'));
      if (!entry) return send(res, 404, 'text/plain', 'unknown service provider');
      return respond(res, entry, undefined, url.searchParams.get('relay_state') || undefined);
    }
  }
  send(res, 404, 'text/plain', 'not found: ' + at);
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    console.error(err);
    if (!res.headersSent) send(res, 500, 'text/plain', String(err && err.stack ? err.stack : err));
  });
});
server.listen(Number(process.env.IDP_PORT || 0), '127.0.0.1', () => {
  const base = 'http://127.0.0.1:' + server.address().port;
  idps = makeIdPs(base);
  console.log('listening on ' + base);
});
// The test closes stdin when it is done: a killed test leaves no IdP behind.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
