// DPoP at the token endpoint (RFC 9449 §5, §11.1; the MCP DPoP extension,
// SEP-1932): a replayed or otherwise invalid proof is `invalid_dpop_proof`
// (oidc-provider's own answer to a replay is `invalid_grant`, rewritten here),
// a replayed proof does not cost the client its refresh token, and a client
// registered with dpop_bound_access_tokens gets nothing without a proof.
import { randomBytes } from 'node:crypto'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import type { AuthorizationServerEvent } from '../../authorization-server.js'
import { completeAuthorization, createDpopKey, createDpopProof } from '../../testing.js'
import type { DpopKey, DpopProofOptions } from '../../testing.js'
import { authorizationUrl, insecure, REDIRECT_URI, RESOURCE, registerPublicClient, startAs } from '../helpers/authorization-server.js'

const SECRET = randomBytes(24).toString('base64url')
const SERVICE = { client_id: 'service', client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }
const BOUND = { ...SERVICE, client_id: 'bound-service', dpop_bound_access_tokens: true }
const basic = (clientId: string) => ({ authorization: `Basic ${Buffer.from(`${clientId}:${SECRET}`).toString('base64')}` })

async function post (endpoint: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

const proof = (key: DpopKey, url: string, options: Omit<DpopProofOptions, 'method' | 'url'> = {}) => createDpopProof(key, { method: 'POST', url, ...options })

t.test('client credentials: a replayed proof is invalid_dpop_proof (RFC 9449 §5), a fresh one is accepted, a wrong htu too', async (t) => {
  const events: AuthorizationServerEvent[] = []
  const running = await startAs(t, { clients: { static: [SERVICE] }, onEvent: (event) => { events.push(event) } })
  const endpoint = running.as.token_endpoint as string
  const body = { grant_type: 'client_credentials', resource: RESOURCE }
  const key = await createDpopKey()
  const first = await proof(key, endpoint)
  const accepted = await post(endpoint, body, { ...basic('service'), dpop: first })
  t.equal(accepted.status, 200)
  t.equal(accepted.body.token_type, 'DPoP')

  const replayed = await post(endpoint, body, { ...basic('service'), dpop: first })
  t.equal(replayed.status, 400)
  t.same(replayed.body, { error: 'invalid_dpop_proof', error_description: 'DPoP proof replay detected' })
  t.match(events.at(-1), { type: 'token.refused', clientId: 'service', grantType: 'client_credentials', error: 'invalid_dpop_proof' }, 'the event says so too')

  t.equal((await post(endpoint, body, { ...basic('service'), dpop: await proof(key, endpoint) })).status, 200, 'a fresh proof is accepted')
  const wrongHtu = await post(endpoint, body, { ...basic('service'), dpop: await proof(key, endpoint, { flaw: 'wrong-htu' }) })
  t.equal(wrongHtu.body.error, 'invalid_dpop_proof', 'oidc-provider\'s own answer for an invalid proof')
  // Other grant errors keep their code.
  t.equal((await post(endpoint, { ...body, resource: 'https://unknown.example/mcp' }, { ...basic('service'), dpop: await proof(key, endpoint) })).body.error, 'invalid_target')
})

t.test('refresh: a replayed proof is invalid_dpop_proof and the refresh token survives it', async (t) => {
  const running = await startAs(t)
  const client = await registerPublicClient(running.as)
  const endpoint = running.as.token_endpoint as string
  const key = await createDpopKey()
  const { url, verifier } = await authorizationUrl(running.as, client, { scope: 'mcp:tools:read offline_access', dpop_jkt: key.jkt })
  const code = (await completeAuthorization(url, REDIRECT_URI)).searchParams.get('code') as string
  const tokens = await post(endpoint, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: client.client_id }, { dpop: await proof(key, endpoint) })
  t.equal(tokens.body.token_type, 'DPoP')
  const refreshToken = String(tokens.body.refresh_token)

  const refresh = (token: string, dpop: string) => post(endpoint, { grant_type: 'refresh_token', refresh_token: token, client_id: client.client_id }, { dpop })
  const spent = await proof(key, endpoint)
  const rotated = await refresh(refreshToken, spent)
  t.equal(rotated.status, 200)
  const current = String(rotated.body.refresh_token)
  const replayed = await refresh(current, spent)
  t.equal(replayed.body.error, 'invalid_dpop_proof', 'the replay is told apart from a dead grant')
  const fresh = await refresh(current, await proof(key, endpoint))
  t.equal(fresh.status, 200, 'the current refresh token still works with a fresh proof')
  t.type(fresh.body.refresh_token, 'string')
})

t.test('a client registered with dpop_bound_access_tokens gets no token without a proof (SEP-1932)', async (t) => {
  const running = await startAs(t, { clients: { static: [BOUND] } })
  const endpoint = running.as.token_endpoint as string
  const body = { grant_type: 'client_credentials', resource: RESOURCE }
  const without = await post(endpoint, body, basic('bound-service'))
  t.equal(without.status, 400)
  // oidc-provider's answer for a missing proof (RFC 9449 §5.2 names no error code).
  t.equal(without.body.error, 'invalid_grant')
  const withProof = await post(endpoint, body, { ...basic('bound-service'), dpop: await proof(await createDpopKey(), endpoint) })
  t.equal(withProof.body.token_type, 'DPoP')
})

t.test('oauth4webapi sees invalid_dpop_proof as a DPoP error, not a dead grant', async (t) => {
  const running = await startAs(t, { clients: { static: [SERVICE] } })
  const endpoint = running.as.token_endpoint as string
  const key = await createDpopKey()
  const spent = await proof(key, endpoint)
  await post(endpoint, { grant_type: 'client_credentials', resource: RESOURCE }, { ...basic('service'), dpop: spent })
  const res = await oauth.clientCredentialsGrantRequest(running.as, { client_id: 'service' }, oauth.ClientSecretBasic(SECRET), new URLSearchParams({ resource: RESOURCE }), {
    ...insecure,
    [oauth.customFetch]: async (url: string, init: RequestInit) => fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), dpop: spent } }),
  })
  const error = await oauth.processClientCredentialsResponse(running.as, { client_id: 'service' }, res).then(() => undefined, (err: unknown) => err)
  t.ok(error instanceof oauth.ResponseBodyError)
  t.equal((error as oauth.ResponseBodyError).error, 'invalid_dpop_proof')
})
