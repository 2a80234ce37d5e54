// The scenarios of one round, in the order they run (each baseline right before
// the servers it is compared with). `prepare` runs after the server reported
// its port and returns what the load generator sends:
//   probe()          headers for the sanity request (built with the testing helpers where they apply)
//   headers          sent with every request, or
//   next()           the headers of the next request (pools: one fresh proof or token each)
//   pool(seconds, estimatedRps)  builds a pool for a run of that length, returns { next, size }
import { PATH, RESOURCE_HTTP, RESOURCE_TLS, NONCE_SECRET } from '../fixtures.js'
import { redisMissing } from '../servers/redis.js'

/**
 * Fresh-token Bearer: distinct tokens handed out round-robin from a pool
 * larger than any verified-token cache (plugin 10000 entries, fast-jwt 1000):
 * a token comes back only after more than 10000 others, so every request is a
 * cache miss and pays what a real miss pays with the cache on (tokenCache: false
 * would skip it): for fast-jwt a lookup, insert and eviction; for this plugin a
 * token's first miss is verified and kept by value only, a later miss is hashed,
 * looked up and inserted. 25000 (12500 in quick mode).
 */
export const FRESH_TOKEN_POOL = 25_000

const serverConfig = (fx, resource, extra = {}) => ({
  issuer: fx.issuer,
  jwks: fx.jwks,
  publicPem: fx.publicPem,
  resource,
  ...extra,
})

function repeatedBearer (fx, resource) {
  const token = fx.mintAccessToken({ audience: resource })
  const headers = { authorization: 'Bearer ' + token }
  return { headers, probe: () => headers }
}

function freshBearer (fx, resource) {
  // One pool per run, shared by the scenarios (each server is a fresh process).
  fx.freshTokens ??= new Map()
  if (!fx.freshTokens.has(resource)) fx.freshTokens.set(resource, fx.mintTokenPool(fx.freshTokenPool ?? FRESH_TOKEN_POOL, { audience: resource, expiresIn: 7200 }))
  const pool = fx.freshTokens.get(resource)
  let i = 0
  return {
    next: () => ({ authorization: 'Bearer ' + pool[i++ % pool.length] }),
    probe: () => ({ authorization: 'Bearer ' + fx.mintAccessToken({ audience: resource }) }),
  }
}

/** DPoP: one DPoP-bound token (cached after the first request), a unique proof per request. */
function freshProofs (fx, { resource, htu, nonce }) {
  const token = fx.mintAccessToken({ audience: resource, bindTo: { jkt: fx.dpopKey.jkt } })
  const authorization = 'DPoP ' + token
  return {
    async probe () {
      return { authorization, dpop: await fx.helperProof({ htu, accessToken: token, nonce: nonce?.() }) }
    },
    pool (size) {
      const proofs = fx.proofPool(size, { htu, accessToken: token, nonce: nonce?.() })
      let i = 0
      return {
        size,
        // Past the end it wraps: replays, answered 401, and the run fails. The
        // runner caps requests at the pool size so that never happens.
        next: () => ({ authorization, dpop: proofs[i++ % proofs.length] }),
      }
    },
  }
}

/**
 * DPoP within an MCP session: one request opens it (the route answers with a new
 * Mcp-Session-Id), then every request sends that ID with its fresh proof.
 */
async function sessionProofs (fx, port) {
  const proofs = freshProofs(fx, { resource: RESOURCE_HTTP, htu: RESOURCE_HTTP })
  const opened = await fetch(`http://127.0.0.1:${port}${PATH}`, { headers: await proofs.probe() })
  const sessionId = opened.headers.get('mcp-session-id')
  if (!opened.ok || sessionId === null) throw new Error(`opening the session answered ${opened.status}${sessionId === null ? ' without Mcp-Session-Id' : ''}`)
  const withSession = (headers) => ({ ...headers, 'mcp-session-id': sessionId })
  return {
    probe: async () => withSession(await proofs.probe()),
    pool (size) {
      const { next } = proofs.pool(size)
      return { size, next: () => withSession(next()) }
    },
  }
}

function mtlsBound (fx, resource) {
  const token = fx.mintAccessToken({ audience: resource, bindTo: { x5t: fx.client.x5t } })
  const headers = { authorization: 'Bearer ' + token }
  return { headers, probe: () => headers }
}

const clientTls = (fx) => ({ cert: fx.client.cert, key: fx.client.key, ca: fx.tls.ca })

/** Why a scenario cannot run on this machine (a missing redis-server), or undefined. */
export function missingRequirement (scenario) {
  return scenario.requires?.()
}

export function scenarios () {
  return [
    {
      id: 'fastify-bare',
      label: 'Fastify, no auth',
      server: 'bare.js',
      family: 'fastify',
      config: () => ({}),
      prepare: () => ({ headers: {}, probe: () => ({}) }),
    },
    {
      id: 'fastify-bare-token',
      label: 'Fastify, no auth, the Bearer scenario\'s request (token sent, ignored)',
      server: 'bare.js',
      family: 'fastify',
      config: () => ({}),
      prepare: (fx) => repeatedBearer(fx, RESOURCE_HTTP),
    },
    ...[5, 10, 20].map((spinUs) => ({
      id: `busy-${spinUs}us`,
      label: `Calibration: Fastify + a hook that only spins ${spinUs} µs, same request`,
      server: 'busy-wait.js',
      family: 'fastify',
      config: () => ({ spinUs }),
      prepare: (fx) => repeatedBearer(fx, RESOURCE_HTTP),
    })),
    {
      id: 'mcp-bearer',
      label: 'fastify-mcp-auth, Bearer, repeated token (cache hit)',
      server: 'mcp-auth.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP, { mode: 'bearer' }),
      prepare: (fx) => repeatedBearer(fx, RESOURCE_HTTP),
    },
    {
      id: 'floor-fresh',
      label: 'Fastify + one ES256 crypto.verify of the token, nothing else (measured ceiling), fresh tokens',
      server: 'verify-floor.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP),
      prepare: (fx) => freshBearer(fx, RESOURCE_HTTP),
    },
    {
      id: 'mcp-bearer-fresh',
      label: 'fastify-mcp-auth, Bearer, fresh token per request (cache miss)',
      server: 'mcp-auth.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP, { mode: 'bearer' }),
      prepare: (fx) => freshBearer(fx, RESOURCE_HTTP),
    },
    {
      id: 'floor-dpop',
      label: 'Fastify + one ES256 crypto.verify of the proof, nothing else (measured ceiling), fresh proofs',
      server: 'verify-floor.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP, { proofJwk: fx.dpopKey.publicJwk }),
      prepare: (fx) => freshProofs(fx, { resource: RESOURCE_HTTP, htu: RESOURCE_HTTP }),
    },
    {
      id: 'mcp-dpop',
      label: 'fastify-mcp-auth, DPoP, fresh proof per request (replay store on)',
      server: 'mcp-auth.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP, { mode: 'dpop' }),
      prepare: (fx) => freshProofs(fx, { resource: RESOURCE_HTTP, htu: RESOURCE_HTTP }),
    },
    {
      id: 'mcp-dpop-nonce',
      label: 'fastify-mcp-auth, DPoP + server nonces, fresh proof per request',
      server: 'mcp-auth.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP, { mode: 'dpop-nonce', nonceSecret: NONCE_SECRET }),
      prepare: (fx) => freshProofs(fx, { resource: RESOURCE_HTTP, htu: RESOURCE_HTTP, nonce: fx.currentNonce }),
    },
    {
      id: 'mcp-dpop-session',
      label: 'fastify-mcp-auth, DPoP, fresh proof per request, in an MCP session (Mcp-Session-Id sent and echoed, no binding)',
      server: 'mcp-auth.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP, { mode: 'dpop', sessions: true }),
      prepare: (fx, { port }) => sessionProofs(fx, port),
    },
    {
      id: 'mcp-dpop-bound',
      label: 'fastify-mcp-auth, DPoP, fresh proof per request, session bound (sessionBinding, RedisSessionStore on a local redis-server, Unix socket)',
      server: 'mcp-auth.js',
      family: 'fastify',
      requires: redisMissing,
      config: (fx) => serverConfig(fx, RESOURCE_HTTP, { mode: 'dpop', sessions: true, sessionBinding: 'redis' }),
      prepare: (fx, { port }) => sessionProofs(fx, port),
    },
    {
      id: 'fastify-jwt',
      label: '@fastify/jwt, Bearer, repeated token (cache on)',
      server: 'fastify-jwt.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP),
      prepare: (fx) => repeatedBearer(fx, RESOURCE_HTTP),
    },
    {
      id: 'fastify-jwt-fresh',
      label: '@fastify/jwt, Bearer, fresh token per request (cache miss)',
      server: 'fastify-jwt.js',
      family: 'fastify',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP),
      prepare: (fx) => freshBearer(fx, RESOURCE_HTTP),
    },
    {
      id: 'fastify-bare-tls',
      label: 'Fastify, no auth, TLS + client certificate',
      server: 'bare.js',
      family: 'fastify',
      tls: true,
      config: (fx) => ({ tls: fx.tls }),
      prepare: () => ({ headers: {}, probe: () => ({}) }),
    },
    {
      id: 'fastify-bare-tls-token',
      label: 'Fastify, no auth, TLS + client certificate, the mTLS scenario\'s request (token sent, ignored)',
      server: 'bare.js',
      family: 'fastify',
      tls: true,
      config: (fx) => ({ tls: fx.tls }),
      prepare: (fx) => mtlsBound(fx, RESOURCE_TLS),
    },
    {
      id: 'mcp-mtls',
      label: 'fastify-mcp-auth, mTLS-bound token, repeated (TLS)',
      server: 'mcp-auth.js',
      family: 'fastify',
      tls: true,
      config: (fx) => serverConfig(fx, RESOURCE_TLS, { mode: 'mtls', tls: fx.tls }),
      prepare: (fx) => mtlsBound(fx, RESOURCE_TLS),
    },
    {
      id: 'express-bare',
      label: 'Express, no auth',
      server: 'express-bare.js',
      family: 'express',
      config: () => ({}),
      prepare: () => ({ headers: {}, probe: () => ({}) }),
    },
    {
      id: 'express-bearer',
      label: 'express-oauth2-jwt-bearer, Bearer, repeated token (no cache)',
      server: 'express-jwt-bearer.js',
      family: 'express',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP),
      prepare: (fx) => repeatedBearer(fx, RESOURCE_HTTP),
    },
    {
      id: 'express-bearer-fresh',
      label: 'express-oauth2-jwt-bearer, Bearer, fresh token per request',
      server: 'express-jwt-bearer.js',
      family: 'express',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP),
      prepare: (fx) => freshBearer(fx, RESOURCE_HTTP),
    },
    {
      id: 'express-dpop',
      label: 'express-oauth2-jwt-bearer, DPoP, fresh proof per request (no replay store)',
      server: 'express-jwt-bearer.js',
      family: 'express',
      config: (fx) => serverConfig(fx, RESOURCE_HTTP),
      // It builds htu from the Host header, so the proofs name the real port.
      prepare: (fx, { port }) => freshProofs(fx, { resource: RESOURCE_HTTP, htu: `http://127.0.0.1:${port}${PATH}` }),
    },
    {
      id: 'express-bare-tls',
      label: 'Express, no auth, TLS + client certificate',
      server: 'express-bare.js',
      family: 'express',
      tls: true,
      config: (fx) => ({ tls: fx.tls }),
      prepare: () => ({ headers: {}, probe: () => ({}) }),
    },
    {
      id: 'express-mtls',
      label: 'express-oauth2-jwt-bearer, mTLS-bound token, repeated (TLS)',
      server: 'express-jwt-bearer.js',
      family: 'express',
      tls: true,
      config: (fx) => serverConfig(fx, RESOURCE_TLS, { tls: fx.tls }),
      prepare: (fx) => mtlsBound(fx, RESOURCE_TLS),
    },
  ].map((scenario) => ({ ...scenario, clientTls: scenario.tls ? clientTls : undefined }))
}

/**
 * The comparisons and their targets. `kind`:
 *   bare     plugin ÷ baseline req/s (a bare server, a measured ceiling)
 *   ceiling  plugin ÷ (1 / (1/bare req/s + 1/verifications per second)), computed
 *   peer     plugin ÷ peer req/s on the same scenario
 * `target` undefined: shown, not judged (`interleave: true` still measures it in
 * interleaved pairs). The ceilings that are judged are the
 * measured ones (floor-*): bare Fastify plus one verification per request, in
 * the same run, under the same load; the computed ones add a verification
 * rate measured in a tight loop on an otherwise idle core (see RESULTS.md).
 */
export const comparisons = [
  { id: 'bearer/bare', kind: 'bare', subject: 'mcp-bearer', base: 'fastify-bare-token', target: 0.85, label: 'Bearer repeated ÷ bare Fastify (same request)' },
  { id: 'bearer/bare-empty', kind: 'bare', subject: 'mcp-bearer', base: 'fastify-bare', label: 'Bearer repeated ÷ bare Fastify (request without a token)' },
  { id: 'busy-5us/bare', kind: 'bare', subject: 'busy-5us', base: 'fastify-bare-token', label: 'Calibration: 5 µs of work per request ÷ bare Fastify' },
  { id: 'busy-10us/bare', kind: 'bare', subject: 'busy-10us', base: 'fastify-bare-token', label: 'Calibration: 10 µs of work per request ÷ bare Fastify' },
  { id: 'busy-20us/bare', kind: 'bare', subject: 'busy-20us', base: 'fastify-bare-token', label: 'Calibration: 20 µs of work per request ÷ bare Fastify' },
  { id: 'mtls/bare-tls', kind: 'bare', subject: 'mcp-mtls', base: 'fastify-bare-tls', interleave: true, label: 'mTLS repeated ÷ bare Fastify (TLS, request without a token)' },
  { id: 'mtls/bare-tls-token', kind: 'bare', subject: 'mcp-mtls', base: 'fastify-bare-tls-token', interleave: true, label: 'mTLS repeated ÷ bare Fastify (TLS, same request)' },
  { id: 'fresh/floor', kind: 'bare', subject: 'mcp-bearer-fresh', base: 'floor-fresh', target: 0.85, label: 'Bearer fresh ÷ ceiling (measured)' },
  { id: 'dpop/floor', kind: 'bare', subject: 'mcp-dpop', base: 'floor-dpop', target: 0.85, label: 'DPoP ÷ ceiling (measured)' },
  { id: 'dpop-nonce/floor', kind: 'bare', subject: 'mcp-dpop-nonce', base: 'floor-dpop', target: 0.85, label: 'DPoP + nonce ÷ ceiling (measured)' },
  { id: 'dpop-bound/dpop-session', kind: 'bare', subject: 'mcp-dpop-bound', base: 'mcp-dpop-session', interleave: true, label: 'DPoP in a session, bound with RedisSessionStore ÷ the same requests without binding' },
  { id: 'fresh/ceiling', kind: 'ceiling', subject: 'mcp-bearer-fresh', base: 'fastify-bare-token', label: 'Bearer fresh ÷ ceiling (computed, idle-core verify rate)' },
  { id: 'dpop/ceiling', kind: 'ceiling', subject: 'mcp-dpop', base: 'fastify-bare-token', label: 'DPoP ÷ ceiling (computed, idle-core verify rate)' },
  { id: 'dpop-nonce/ceiling', kind: 'ceiling', subject: 'mcp-dpop-nonce', base: 'fastify-bare-token', label: 'DPoP + nonce ÷ ceiling (computed, idle-core verify rate)' },
  { id: 'bearer/fastify-jwt', kind: 'peer', subject: 'mcp-bearer', base: 'fastify-jwt', target: 1, label: 'Bearer repeated ÷ @fastify/jwt' },
  { id: 'bearer/express', kind: 'peer', subject: 'mcp-bearer', base: 'express-bearer', target: 1, label: 'Bearer repeated ÷ express-oauth2-jwt-bearer' },
  { id: 'fresh/fastify-jwt', kind: 'peer', subject: 'mcp-bearer-fresh', base: 'fastify-jwt-fresh', target: 1, label: 'Bearer fresh ÷ @fastify/jwt' },
  { id: 'fresh/express', kind: 'peer', subject: 'mcp-bearer-fresh', base: 'express-bearer-fresh', target: 1, label: 'Bearer fresh ÷ express-oauth2-jwt-bearer' },
  { id: 'dpop/express', kind: 'peer', subject: 'mcp-dpop', base: 'express-dpop', target: 1, label: 'DPoP ÷ express-oauth2-jwt-bearer' },
  { id: 'dpop-nonce/express', kind: 'peer', subject: 'mcp-dpop-nonce', base: 'express-dpop', label: 'DPoP + nonce ÷ express-oauth2-jwt-bearer (no nonces)' },
  { id: 'mtls/express', kind: 'peer', subject: 'mcp-mtls', base: 'express-mtls', target: 1, label: 'mTLS ÷ express-oauth2-jwt-bearer' },
]
