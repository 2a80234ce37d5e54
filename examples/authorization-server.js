// A DEVELOPMENT authorization server for MCP, built on oidc-provider: run it next to
// your MCP server to try the whole OAuth flow on one machine. It keeps everything in
// memory, signs with keys made at start, and approves every login and consent for a
// single demo user, so it must never face a network.
//
//   import { startAuthorizationServer } from './authorization-server.js'
//   const as = await startAuthorizationServer({
//     resources: [{ uri: 'http://127.0.0.1:3000/mcp', scopes: ['mcp:tools:read', 'mcp:tools:call'] }],
//   })
//   // mcpAuth({ resource: 'http://127.0.0.1:3000/mcp', authorizationServers: [as.issuer] })
//
// What an MCP client gets from it: open dynamic client registration, Client ID Metadata
// Documents, authorization code + PKCE (S256 only), client credentials, refresh tokens,
// and RFC 9068 JWT access tokens whose `aud` is the requested resource (RFC 8707) and
// whose `scope` only holds scopes that resource allows, DPoP-bound (`cnf.jkt`) when the
// client uses DPoP. A request that names no scope gets the resource's default scopes.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { defaultScope } from '../dist/lib/authorization-server/default-scopes.js'

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * Starts the development authorization server on a loopback address.
 * Resolves with { issuer, url, close(), provider }.
 */
export async function startAuthorizationServer (options = {}) {
  const {
    port = 0,
    host = '127.0.0.1',
    resources = [],
    demoUser = { sub: 'demo-user', name: 'Demo User' },
    clients = [],
    nonces = false,
    quiet = false,
    unsafeFetch,
  } = options
  if (!LOOPBACK.has(host)) {
    throw new TypeError(`the development authorization server listens on loopback only (127.0.0.1, ::1 or localhost); got host ${JSON.stringify(host)}`)
  }
  if (!Array.isArray(resources) || resources.some((r) => typeof r?.uri !== 'string' || !Array.isArray(r.scopes) || !(r.defaultScopes === undefined || Array.isArray(r.defaultScopes)))) {
    throw new TypeError('resources must be an array of { uri: string, scopes: string[], defaultScopes?: string[] }')
  }
  if (unsafeFetch !== undefined && typeof unsafeFetch !== 'function') {
    throw new TypeError('unsafeFetch must be a function (url, init) => Promise<Response>')
  }

  // oidc-provider prints start-up notices (in-memory adapter, Node 20 support); tests want silence.
  const { default: Provider, errors } = await hushProviderNotices(quiet, () => import('oidc-provider'))

  // Listen first: with port 0 the issuer (which embeds the port) is only known afterwards.
  const server = createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const hostname = address.family === 'IPv6' ? `[${address.address}]` : host === 'localhost' ? 'localhost' : address.address
  // No trailing slash: the issuer must equal the `issuer` in the metadata and the tokens' `iss`.
  const issuer = `http://${hostname}:${address.port}`

  const byUri = new Map(resources.map((r) => [r.uri, r]))
  // A client that names no resource still gets a token for the only MCP server there is.
  const onlyResource = resources.length === 1 ? resources[0].uri : undefined

  const configuration = {
    // A fresh ES256 key per start: resource servers fetch it from jwks_uri.
    jwks: { keys: [signingKey()] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    clients,
    // Cookies carry the login session and interaction state between redirects.
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], profile: ['name'] },
    // Dynamic registration checks a client's `scope` against these: MCP clients (the SDK
    // among them) register with the scopes from the 401 challenge or the resource metadata.
    scopes: ['openid', 'offline_access', ...new Set(resources.flatMap((r) => r.scopes))],
    async findAccount (ctx, sub) {
      if (sub !== demoUser.sub) return undefined
      return { accountId: sub, claims: async () => ({ ...demoUser, sub }) }
    },
    responseTypes: ['code'],
    // OAuth 2.1 / MCP: PKCE for every client (oidc-provider 9 only supports S256).
    pkce: { required: () => true },
    // Refresh tokens whenever the client registered the refresh_token grant, without
    // asking for offline_access (which would force a consent prompt with prompt=consent).
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false }, // replaced by the auto-approving route below
      registration: { enabled: true }, // open registration: MCP clients register themselves
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      // A client may use the HTTPS URL of its metadata document as its client_id (the MCP
      // spec's preferred registration). oidc-provider fetches it through its SSRF guard,
      // which refuses loopback and private addresses.
      clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
      dPoP: {
        enabled: true,
        nonceSecret: nonces ? randomBytes(32) : undefined,
        requireNonce: () => nonces,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf ?? onlyResource,
        // The code's resource is used at the token endpoint even when `openid` was requested.
        useGrantedResource: async () => true,
        async getResourceServerInfo (ctx, indicator) {
          const resource = byUri.get(indicator)
          if (resource === undefined) throw new errors.InvalidTarget(`unknown resource ${indicator}`)
          return {
            audience: resource.uri,
            scope: resource.scopes.join(' '), // token scopes are filtered to these
            accessTokenFormat: 'jwt', // RFC 9068, typ at+jwt
            accessTokenTTL: 3600,
            jwt: { sign: { alg: 'ES256' } },
          }
        },
      },
    },
    // Numbers instead of the default functions (which log a notice on first use).
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      ClientCredentials: 3600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    clientBasedCORS: () => true, // browser-based dev tools (e.g. the MCP Inspector)
    // Tests only: the guarded fetch cannot reach a loopback CIMD server.
    ...(unsafeFetch === undefined ? {} : { fetch: unsafeFetch }),
    renderError: async (ctx, out) => {
      ctx.type = 'json'
      ctx.body = out
    },
  }

  let provider
  try {
    provider = await hushProviderNotices(quiet, () => new Provider(issuer, configuration))
  } catch (err) {
    await new Promise((resolve) => server.close(resolve))
    throw err
  }
  const callback = provider.callback()

  // Scope-less authorization requests (MCP clients send none when nothing is advertised)
  // get their resource's default scopes, else its every scope. Only the query of a GET is
  // rewritten: a form-posted request, a request object and a pushed request reach
  // oidc-provider as they are.
  const defaultScopesOf = (uri) => byUri.get(uri)?.defaultScopes ?? byUri.get(uri)?.scopes
  function defaultScopeFor (query) {
    if (query.has('request') || query.has('request_uri')) return undefined
    const named = query.getAll('resource')
    return defaultScope({ scope: query.get('scope'), resource: named.length > 0 ? named : onlyResource }, defaultScopesOf)
  }

  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer)
    const { pathname } = url
    const scope = pathname === '/auth' && req.method === 'GET' ? defaultScopeFor(url.searchParams) : undefined
    if (scope !== undefined) {
      url.searchParams.set('scope', scope)
      req.url = `${pathname}${url.search}`
    }
    if (/^\/interaction\/[^/]+$/.test(pathname)) {
      autoApprove(provider, demoUser, req, res).catch((err) => {
        res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(JSON.stringify({ error: 'invalid_request', error_description: err.message }))
      })
      return
    }
    callback(req, res)
  })

  if (!quiet) {
    console.warn([
      '',
      '!!! DEVELOPMENT AUTHORIZATION SERVER — NOT FOR PRODUCTION !!!',
      `!!! ${issuer} signs in "${demoUser.sub}" for anyone, approves every consent,`,
      '!!! accepts any client registration and forgets everything on restart.',
      '',
    ].join('\n'))
  }

  return {
    issuer,
    url: issuer,
    provider,
    close () {
      return new Promise((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      })
    },
  }
}

// The development login and consent: every interaction ends approved for the demo user.
// A client following redirects (303s) programmatically ends up at its redirect_uri with a code.
async function autoApprove (provider, demoUser, req, res) {
  const { prompt, params, session, grantId } = await provider.interactionDetails(req, res)
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: demoUser.sub } }, { mergeWithLastSubmission: false })
    return
  }
  if (prompt.name !== 'consent') throw new Error(`unsupported prompt ${prompt.name}`)
  // Grant exactly what oidc-provider reports missing: OIDC scopes/claims and, per resource,
  // the requested scopes that resource allows (already filtered by getResourceServerInfo).
  const grant = grantId === undefined
    ? new provider.Grant({ accountId: session.accountId, clientId: params.client_id })
    : await provider.Grant.find(grantId)
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '))
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims)
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '))
  }
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true })
}

function signingKey () {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...privateKey.export({ format: 'jwk' }), kid: `dev-${randomBytes(6).toString('base64url')}`, alg: 'ES256', use: 'sig' }
}

// Runs fn with oidc-provider's own console notices dropped when quiet (ours are simply not printed).
async function hushProviderNotices (quiet, fn) {
  if (!quiet) return fn()
  const { warn, info } = console
  const keep = (log) => (...args) => {
    if (!String(args[0]).includes('oidc-provider ')) log(...args)
  }
  console.warn = keep(warn)
  console.info = keep(info)
  try {
    return await fn()
  } finally {
    console.warn = warn
    console.info = info
  }
}

/**
 * Drives an authorization request through this server's auto-approved login and
 * consent the way a browser would (following redirects, carrying cookies by hand)
 * and resolves with the redirect-URI URL carrying the code. For demos and tests.
 */
export async function completeDevAuthorization (authorizationUrl, redirectUri) {
  const cookies = new Map()
  let url = new URL(authorizationUrl)
  for (let hop = 0; hop < 10; hop++) {
    const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const res = await fetch(url, { redirect: 'manual', headers: cookie === '' ? {} : { cookie } })
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name)
      else cookies.set(name, value)
    }
    const location = res.headers.get('location')
    if (res.status < 300 || res.status > 399 || location === null) {
      throw new Error(`expected a redirect from ${url.href}, got ${res.status}: ${await res.text()}`)
    }
    await res.body?.cancel()
    url = new URL(location, url)
    if (url.href.startsWith(redirectUri)) return url
  }
  throw new Error('too many redirects')
}
