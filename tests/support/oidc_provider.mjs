// A real OpenID Provider for the tests: npm `oidc-provider` (panva, OpenID-certified), on loopback, with a
// configuration of the tests' own. Started by tests/support/oidc_provider.py as
//     node oidc_provider.mjs CONFIG.json
// with OIDC_PROVIDER_ENTRY and OIDC_JOSE_ENTRY naming the installed packages' entry files.
//
// CONFIG: { port, clients: [...oidc-provider client metadata], accounts: {id: {claims}}, ttl: {...} }
//
// Besides the provider, a few test-only endpoints under /_admin/ (loopback only, like everything here):
//   POST /_admin/disable?account=ID   the account is gone: sign-in and refresh tokens are refused
//   POST /_admin/enable?account=ID
//   POST /_admin/claims?account=ID    the account's claims become the JSON body (e.g. a group removed)
//   POST /_admin/rotate               a new signing key, published first; the old one stays in the JWKS
//   POST /_admin/tamper?mode=M        the next ID tokens from /token are re-signed after a change:
//                                     unknown_key (a key not in the JWKS), expired, nonce_replay (the nonce of
//                                     an earlier sign-in), none (stop)
//   POST /_admin/mint?key=K&typ=T     a JWT access token (typ T, default at+jwt) with the JSON body as its
//                                     claims, signed by the current key (K=current) or one not in the JWKS (unknown)
//
// CONFIG.resourceServer (optional; external-mode tests): { scope, format: "jwt"|"opaque" }. It turns on
// resource indicators (RFC 8707: the access token's audience is the requested `resource`), the
// client_credentials grant, introspection (RFC 7662) and revocation (RFC 7009). Without it the provider is
// as the oidc tests need it.
// The sign-in page is a plain form (no JavaScript): POST /interaction/UID/login with `login` = account id
// signs in and grants every requested scope at once.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const { default: Provider } = await import(pathToFileURL(process.env.OIDC_PROVIDER_ENTRY).href);
const jose = await import(pathToFileURL(process.env.OIDC_JOSE_ENTRY).href);

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${cfg.port}`;
const accounts = new Map(Object.entries(cfg.accounts));
const disabled = new Set();
let tamper = 'none';
let lastNonce = null;

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

let keys = [newKey()];

function resourceFeatures() {
  const rs = cfg.resourceServer;
  if (!rs) return {};
  return {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client, oneOf) => oneOf,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => ({
        scope: rs.scope,
        audience: resourceIndicator,
        accessTokenTTL: rs.accessTokenTTL || 600,
        accessTokenFormat: rs.format || 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  };
}

async function mint(claims, which, typ) {
  const key = which === 'unknown' ? newKey() : keys[0];
  const signer = await jose.importJWK(key, 'RS256');
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ }).sign(signer);
}

function makeProvider() {
  const provider = new Provider(issuer, {
    clients: cfg.clients,
    jwks: { keys },
    cookies: { keys: ['test-cookie-key-not-secret'] },
    findAccount: async (ctx, id) => {
      if (!accounts.has(id) || disabled.has(id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts.get(id) }) };
    },
    claims: {
      openid: ['sub', 'tid', 'oid', 'hd', 'hasgroups', 'groups', 'roles', 'xms_edov'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    // Every granted claim goes into the ID token, as Entra, Okta and Google do for their standard claims.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false }, ...resourceFeatures() },
    ...(cfg.resourceServer ? { scopes: ['openid', 'offline_access', ...cfg.resourceServer.scope.split(' ')] } : {}),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    // A refresh token for every code grant and a grant that outlives the browser session, as with
    // offline_access at Entra or Okta (oidc-provider otherwise drops offline_access without prompt=consent).
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 86400,
      AuthorizationCode: 60, ...(cfg.ttl || {}) },
  });
  provider.proxy = false;
  return provider;
}

let provider = makeProvider();

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
  });
}

function page(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><body>${html}</body></html>`);
}

async function admin(req, res, url) {
  const account = url.searchParams.get('account');
  switch (url.pathname) {
    case '/_admin/disable': disabled.add(account); break;
    case '/_admin/enable': disabled.delete(account); break;
    case '/_admin/claims': accounts.set(account, JSON.parse(await readBody(req))); break;
    case '/_admin/rotate': keys = [newKey(), ...keys]; provider = makeProvider(); break;
    case '/_admin/tamper': tamper = url.searchParams.get('mode') || 'none'; break;
    case '/_admin/mint': {
      const token = await mint(JSON.parse(await readBody(req)), url.searchParams.get('key') || 'current',
        url.searchParams.get('typ') || 'at+jwt');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token }));
      return;
    }
    default: res.writeHead(404); res.end(); return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: true, kids: keys.map((k) => k.kid), tamper }));
}

async function interaction(req, res, url) {
  const uid = url.pathname.split('/')[2];
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    page(res, 200, `<h1>Test provider sign-in</h1><form method="post" action="/interaction/${uid}/login">`
      + '<input name="login" autocomplete="username"><button type="submit">Sign in</button></form>');
    return;
  }
  const login = new URLSearchParams(await readBody(req)).get('login') || '';
  if (!accounts.has(login) || disabled.has(login)) {
    page(res, 401, '<p id="error">Unknown or disabled account.</p>');
    return;
  }
  const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  // With resource indicators on, the access token is for the requested resource (RFC 8707).
  if (cfg.resourceServer && details.params.resource) {
    grant.addResourceScope(String(details.params.resource), String(details.params.scope));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

// Re-sign the ID token of a /token answer after the change the tests asked for.
async function tampered(body) {
  const token = JSON.parse(body);
  if (!token.id_token) return body;
  const claims = jose.decodeJwt(token.id_token);
  if (tamper === 'none') { lastNonce = claims.nonce ?? lastNonce; return body; }
  let key = keys[0];
  const now = Math.floor(Date.now() / 1000);
  if (tamper === 'unknown_key') key = newKey();
  if (tamper === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
  if (tamper === 'nonce_replay') claims.nonce = lastNonce;
  const signer = await jose.importJWK(key, 'RS256');
  token.id_token = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(signer);
  return JSON.stringify(token);
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/_admin/') && req.method === 'POST') return await admin(req, res, url);
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
    if (url.pathname === '/token' && req.method === 'POST') {
      const { end, setHeader } = res;
      res.setHeader = (name, value) => (name.toLowerCase() === 'content-length' ? res : setHeader.call(res, name, value));
      res.end = (chunk, ...rest) => {
        Promise.resolve(chunk && res.statusCode === 200 ? tampered(chunk.toString()) : chunk)
          .then((out) => end.call(res, out, ...rest));
        return res;
      };
    }
    return provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) page(res, 500, 'test provider error');
  }
});

server.listen(cfg.port, '127.0.0.1', () => console.log(`oidc-provider test wrapper listening on ${issuer}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
