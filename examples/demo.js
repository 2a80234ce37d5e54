// The whole story in one run: an MCP client that starts with nothing but the server's
// URL discovers the authorization server from a 401, registers itself, gets a
// DPoP-bound token for notes:read, uses it, is told by a 403 that writing needs
// notes:write, steps up, writes, and then watches a replayed proof and a stolen
// token bounce off. Both servers run in this process on free loopback ports.
//
//   npm run demo                     (builds first; or: node examples/demo.js)
//   node examples/demo.js --quiet    only the step lines and the summary
//
// Exits 0 only when every step behaved as expected. The client is oauth4webapi, a
// general-purpose OAuth 2 / DPoP client; the MCP messages are plain JSON-RPC over POST.
import * as oauth from 'oauth4webapi'
import { completeDevAuthorization, startAuthorizationServer } from './authorization-server.js'
import { freePort, startMcpServer, NOTES_SCOPES } from './mcp-server.js'

const quiet = process.argv.includes('--quiet')
const REDIRECT_URI = 'http://127.0.0.1/callback' // never contacted: the code is read from the redirect
const insecure = { [oauth.allowInsecureRequests]: true } // plain http is fine on loopback only

// The MCP server's URL is its resource identifier, and the authorization server must
// know that resource before the MCP server (which needs the issuer) can start.
const mcpPort = await freePort()
const resource = `http://127.0.0.1:${mcpPort}/mcp`
const authServer = await startAuthorizationServer({ quiet: true, resources: [{ uri: resource, scopes: NOTES_SCOPES }] })
const mcp = await startMcpServer({ port: mcpPort, authorizationServer: authServer.issuer })
const mcpUrl = new URL(mcp.url)

if (!quiet) {
  console.log(`
fastify-mcp-auth demo: an MCP client goes from a bare 401 to a DPoP-bound token
  MCP server             ${mcp.url}  (Fastify + @modelcontextprotocol/sdk + fastify-mcp-auth)
  authorization server   ${authServer.issuer}  (mcpAuthorizationServer, development pages)
`)
}

// What the client learns along the way.
const state = {}
let nextId = 1 // JSON-RPC request ids
const results = []
let number = 0

/** Runs one step: `run` returns { ok, line, details } (or throws, which fails the step). */
async function step (run) {
  number++
  let outcome
  try {
    outcome = await run()
  } catch (err) {
    outcome = { ok: false, line: `unexpected error: ${err.message}`, details: err.cause ? [String(err.cause.message ?? err.cause)] : [] }
  }
  results.push(outcome.ok)
  console.log(`${String(number).padStart(2)} ${outcome.ok ? '✓' : '✗'} ${outcome.line}`)
  if (!quiet) for (const detail of outcome.details ?? []) console.log(`       ${detail}`)
  return outcome.ok
}

const steps = [
  async () => {
    const res = await fetch(mcpUrl, { method: 'POST', headers: mcpHeaders(), body: JSON.stringify(rpc('tools/list')) })
    const header = res.headers.get('www-authenticate') ?? ''
    const [first] = parseChallenges(header)
    state.resourceMetadataUrl = first?.params.resource_metadata
    state.challengeScope = first?.params.scope
    return {
      ok: res.status === 401 && first?.scheme === 'Bearer' && state.resourceMetadataUrl !== undefined && /\bDPoP\b/.test(header),
      line: `POST /mcp without a token → ${res.status}, challenges ${parseChallenges(header).map((c) => c.scheme).join(' + ')} with resource_metadata`,
      details: [`WWW-Authenticate: ${header}`, `body: ${await res.text()}`],
    }
  },
  async () => {
    const res = await fetch(state.resourceMetadataUrl)
    const prm = await oauth.processResourceDiscoveryResponse(mcpUrl, res)
    state.issuer = prm.authorization_servers?.[0]
    return {
      ok: prm.resource === mcp.resource && state.issuer === authServer.issuer,
      line: `protected-resource metadata (RFC 9728) → ${res.status}, names the authorization server`,
      details: [
        `GET ${state.resourceMetadataUrl}`,
        `resource: ${prm.resource}`,
        `authorization_servers: ${prm.authorization_servers?.join(', ')}`,
        `scopes_supported: ${prm.scopes_supported?.join(' ')}`,
        `dpop_signing_alg_values_supported: ${prm.dpop_signing_alg_values_supported?.join(' ')}`,
      ],
    }
  },
  async () => {
    const issuer = new URL(state.issuer)
    const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure })
    state.as = await oauth.processDiscoveryResponse(issuer, res)
    const { as } = state
    return {
      ok: as.code_challenge_methods_supported?.includes('S256') && as.registration_endpoint !== undefined && as.dpop_signing_alg_values_supported !== undefined,
      line: `authorization-server metadata (RFC 8414) → ${res.status}, PKCE S256, registration and DPoP supported`,
      details: [
        `GET ${res.url}`,
        `authorization_endpoint: ${as.authorization_endpoint}`,
        `token_endpoint: ${as.token_endpoint}`,
        `registration_endpoint: ${as.registration_endpoint}`,
      ],
    }
  },
  async () => {
    const res = await oauth.dynamicClientRegistrationRequest(state.as, {
      client_name: 'fastify-mcp-auth demo',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none', // a public client, like most MCP clients
    }, insecure)
    state.client = await oauth.processDynamicClientRegistrationResponse(res)
    return {
      ok: typeof state.client.client_id === 'string',
      line: `dynamic client registration (RFC 7591) → ${res.status}, a public client`,
      details: [`client_id: ${state.client.client_id}`],
    }
  },
  async () => {
    // A DPoP key pair for the client: the token will be bound to it (cnf.jkt).
    state.DPoP = oauth.DPoP(state.client, await oauth.generateKeyPair('ES256'))
    state.tokens = await authorize(['notes:read'])
    const claims = decodePayload(state.tokens.access_token)
    const jkt = await state.DPoP.calculateThumbprint()
    return {
      ok: state.tokens.token_type === 'dpop' && claims.cnf?.jkt === jkt && claims.aud === mcp.resource && claims.scope === 'notes:read',
      line: 'authorization code + PKCE (S256) + DPoP → a DPoP-bound token for notes:read (least privilege)',
      details: tokenDetails(state.tokens, claims),
    }
  },
  async () => {
    const res = await mcpCall(rpc('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'fastify-mcp-auth demo', version: '1.0.0' },
    }))
    state.protocolVersion = res.message?.result?.protocolVersion
    await mcpCall({ jsonrpc: '2.0', method: 'notifications/initialized' })
    const server = res.message?.result?.serverInfo
    return {
      ok: res.status === 200 && server?.name === 'notes',
      line: `initialize → ${res.status}, server "${server?.name}"`,
      details: [`protocolVersion: ${state.protocolVersion}; every request carries Authorization: DPoP <token> and a fresh DPoP proof`],
    }
  },
  async () => {
    const res = await mcpCall(rpc('tools/list'))
    const names = res.message?.result?.tools?.map((tool) => tool.name) ?? []
    return {
      ok: res.status === 200 && ['read_notes', 'write_note', 'whoami'].every((name) => names.includes(name)),
      line: `tools/list → ${res.status}: ${names.join(', ')}`,
      details: [`content-type: ${res.headers.get('content-type')}`],
    }
  },
  async () => {
    const res = await mcpCall(rpc('tools/call', { name: 'read_notes', arguments: {} }))
    const text = res.message?.result?.content?.[0]?.text
    return { ok: res.status === 200 && res.message?.result?.isError !== true, line: `tools/call read_notes → ${res.status}: "${text}"` }
  },
  async () => {
    const res = await mcpCall(rpc('tools/call', { name: 'whoami', arguments: {} }))
    const identity = res.message?.result?.structuredContent ?? {}
    return {
      ok: res.status === 200 && identity.subject === 'demo-user' && identity.clientId === state.client.client_id && identity.binding === 'dpop',
      line: `tools/call whoami → ${res.status}: the tool handler sees subject "${identity.subject}", binding "${identity.binding}"`,
      details: [`authInfo: ${JSON.stringify(identity)}`],
    }
  },
  async () => {
    const res = await mcpCall(rpc('tools/call', { name: 'write_note', arguments: { text: 'DPoP keeps stolen tokens useless' } }))
    const [bearer] = parseChallenges(res.headers.get('www-authenticate') ?? '')
    state.stepUpScope = bearer?.params.scope
    return {
      ok: res.status === 403 && bearer?.params.error === 'insufficient_scope' && state.stepUpScope === 'notes:write',
      line: `tools/call write_note → ${res.status} ${bearer?.params.error}, scope="${state.stepUpScope}"`,
      details: [`WWW-Authenticate: ${res.headers.get('www-authenticate')}`],
    }
  },
  async () => {
    // Step-up: ask again, for what we had plus what the challenge named (clients keep
    // their earlier scopes; the challenge lists what this operation needs).
    const scopes = [...new Set([...decodePayload(state.tokens.access_token).scope.split(' '), ...state.stepUpScope.split(' ')])]
    state.tokens = await authorize(scopes)
    const claims = decodePayload(state.tokens.access_token)
    return {
      ok: claims.scope.split(' ').sort().join(' ') === 'notes:read notes:write' && claims.cnf?.jkt === await state.DPoP.calculateThumbprint(),
      line: `step-up: a new authorization for ${scopes.join(' ')} → a new DPoP-bound token`,
      details: tokenDetails(state.tokens, claims),
    }
  },
  async () => {
    const res = await mcpCall(rpc('tools/call', { name: 'write_note', arguments: { text: 'DPoP keeps stolen tokens useless' } }))
    state.lastRequest = res.request // this proof was used once: keep it to replay it
    const text = res.message?.result?.content?.[0]?.text
    const read = await mcpCall(rpc('tools/call', { name: 'read_notes', arguments: {} }))
    return {
      ok: res.status === 200 && res.message?.result?.isError !== true && read.status === 200,
      line: `tools/call write_note → ${res.status}: "${text}"`,
      details: [`read_notes now: ${read.message?.result?.content?.[0]?.text}`],
    }
  },
  async () => {
    // An attacker who captured a whole request (token and proof) sends it again.
    const { headers, body } = state.lastRequest
    const res = await fetch(mcpUrl, { method: 'POST', headers, body })
    const dpop = parseChallenges(res.headers.get('www-authenticate') ?? '').find((c) => c.scheme === 'DPoP')
    return {
      ok: res.status === 401 && dpop?.params.error === 'invalid_dpop_proof',
      line: `the same request with the same DPoP proof, replayed → ${res.status} ${dpop?.params.error}`,
      details: [`WWW-Authenticate: ${res.headers.get('www-authenticate')}`, `body: ${await res.text()}`],
    }
  },
  async () => {
    // A stolen DPoP-bound token without the key: sent as a plain Bearer token.
    const res = await fetch(mcpUrl, {
      method: 'POST',
      headers: { ...mcpHeaders(), authorization: `Bearer ${state.tokens.access_token}` },
      body: JSON.stringify(rpc('tools/call', { name: 'read_notes', arguments: {} })),
    })
    const [bearer] = parseChallenges(res.headers.get('www-authenticate') ?? '')
    return {
      ok: res.status === 401 && bearer?.params.error === 'invalid_token',
      line: `the DPoP-bound token sent as a Bearer token → ${res.status} ${bearer?.params.error}`,
      details: [`WWW-Authenticate: ${res.headers.get('www-authenticate')}`, `body: ${await res.text()}`],
    }
  },
  async () => {
    // The server counts denials by reason through the plugin's onEvent option.
    const res = await fetch(new URL('/metrics', mcpUrl))
    const { denials } = await res.json()
    return {
      ok: res.status === 200 && denials['dpop.replay'] === 1 && denials['binding.dpop_required'] === 1 && denials['scope.missing'] >= 1,
      line: `audit (onEvent) → denials by reason: ${Object.entries(denials).map(([reason, n]) => `${reason} ${n}`).join(', ')}`,
      details: ['each denial was also logged by the server with its reason, never with the token'],
    }
  },
]

// A watchdog, so a hung server cannot hang the demo (or CI).
const watchdog = setTimeout(() => {
  console.log('✗ the demo took longer than 30 s')
  process.exit(1)
}, 30_000)
watchdog.unref()

try {
  for (const run of steps) {
    if (!await step(run)) break // later steps build on earlier ones
  }
} finally {
  await mcp.close()
  await authServer.close()
  clearTimeout(watchdog)
}

const passed = results.filter(Boolean).length
const allPassed = passed === steps.length
if (!quiet) console.log()
console.log(allPassed
  ? `✓ all ${steps.length} steps behaved as expected`
  : `✗ ${passed} of ${steps.length} steps behaved as expected; stopped at step ${results.length}`)
process.exitCode = allPassed ? 0 : 1

// ─── helpers ──────────────────────────────────────────────────────────────────

function rpc (method, params) {
  return { jsonrpc: '2.0', id: nextId++, method, ...(params === undefined ? {} : { params }) }
}

/** The headers the Streamable HTTP transport expects on every POST. */
function mcpHeaders () {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
  if (state.protocolVersion !== undefined) headers['mcp-protocol-version'] = state.protocolVersion
  return headers
}

/**
 * POST one JSON-RPC message with the current token: oauth4webapi adds
 * `Authorization: DPoP <token>` and a fresh DPoP proof for this method and URL.
 * Resolves with the status, headers, the parsed JSON-RPC answer (JSON or SSE) and
 * the request as sent (to replay it later).
 */
async function mcpCall (message) {
  let request
  const capture = async (url, init) => {
    request = { headers: Object.fromEntries(new Headers(init.headers)), body: init.body }
    return fetch(url, init)
  }
  let res
  try {
    res = await oauth.protectedResourceRequest(state.tokens.access_token, 'POST', mcpUrl, new Headers(mcpHeaders()), JSON.stringify(message), {
      DPoP: state.DPoP,
      [oauth.customFetch]: capture,
      ...insecure,
    })
  } catch (err) {
    if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err
    res = err.response // 401/403 with a challenge: the caller decides whether that was expected
  }
  return { status: res.status, headers: res.headers, message: await readMessage(res, message.id), request }
}

/** A JSON-RPC response from a JSON body or from the `data:` lines of an SSE stream. */
async function readMessage (res, id) {
  const text = await res.text()
  const type = res.headers.get('content-type') ?? ''
  if (id === undefined || text === '') return undefined
  if (type.startsWith('application/json')) return JSON.parse(text)
  if (!type.startsWith('text/event-stream')) return undefined
  const messages = text.split(/\r?\n\r?\n/)
    .map((event) => event.split(/\r?\n/).filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n'))
    .filter((data) => data !== '')
    .map((data) => JSON.parse(data))
  return messages.find((m) => m.id === id)
}

/**
 * Authorization code + PKCE (S256) for `scopes` on the MCP resource, through the
 * development server's auto-approved login and consent, then a DPoP-bound token.
 */
async function authorize (scopes) {
  const { as, client, DPoP } = state
  const verifier = oauth.generateRandomCodeVerifier()
  const expectedState = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint)
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: scopes.join(' '),
    resource: mcp.resource, // RFC 8707: the token's audience
    state: expectedState,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    dpop_jkt: await DPoP.calculateThumbprint(), // RFC 9449 §10: the code only works with this key
  }).toString()
  const callback = await completeDevAuthorization(url, REDIRECT_URI)
  const params = oauth.validateAuthResponse(as, client, callback, expectedState)
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, {
    additionalParameters: { resource: mcp.resource },
    DPoP,
    ...insecure,
  })
  return oauth.processAuthorizationCodeResponse(as, client, res)
}

/** WWW-Authenticate → [{ scheme, params }] (enough for the challenges in this demo). */
function parseChallenges (header) {
  const challenges = []
  const re = /\s*(?:([A-Za-z][\w!#$%&'*+.^`|~-]*)(?=\s+[\w-]+=|\s*$|\s*,))?\s*(?:([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+)))?\s*,?/gy
  let match
  let current
  while ((match = re.exec(header)) !== null && match[0] !== '') {
    const [, scheme, name, quoted, token] = match
    if (scheme !== undefined) challenges.push(current = { scheme, params: {} })
    if (name !== undefined && current !== undefined) current.params[name.toLowerCase()] = quoted?.replace(/\\(.)/g, '$1') ?? token ?? ''
  }
  return challenges
}

function decodePayload (jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
}

function tokenDetails (tokens, claims) {
  return [
    `token_type: ${tokens.token_type}, expires_in: ${tokens.expires_in}`,
    `access token claims: iss ${claims.iss}, aud ${claims.aud}, sub ${claims.sub}, client_id ${claims.client_id}, scope "${claims.scope}", cnf.jkt ${claims.cnf?.jkt}`,
  ]
}
