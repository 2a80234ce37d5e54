// offline_access through oauth4webapi: an OAuth request (no `openid`) that asks
// for it gets a refresh token once the user consents and the client registered
// the refresh_token grant, without `prompt=consent` (issue 19's rule, SEP-2207
// clients); an OpenID request keeps OpenID Connect Core §11's rule (only with
// `prompt=consent`). The consent step sees what the user is asked for.
import * as oauth from 'oauth4webapi'
import { decodeJwt } from 'jose'
import t from 'tap'
import type { ConsentDetails, InteractionsOptions, McpAuthorizationServerOptions } from '../../authorization-server.js'
import { completeAuthorization } from '../../testing.js'
import { authorizationUrl, codeFlowTokens, insecure, REDIRECT_URI, RESOURCE, registerPublicClient, startAs } from '../helpers/authorization-server.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

/** Host pages that sign demo-user in and consent at once, granting `allow` (default: everything asked). */
function autoConsent (asked: string[][], allow?: readonly string[]): InteractionsOptions {
  return {
    login: async (_request, _reply, details) => details.complete({ accountId: 'demo-user' }),
    consent: async (_request, _reply, details: ConsentDetails) => {
      asked.push([...details.scopes])
      return details.grant(allow === undefined ? undefined : { scopes: allow })
    },
  }
}

async function start (t: Test, overrides: Partial<McpAuthorizationServerOptions> = {}, allow?: readonly string[]) {
  const asked: string[][] = []
  const running = await startAs(t, { interactions: autoConsent(asked, allow), ...overrides })
  return { ...running, asked }
}

type Running = Awaited<ReturnType<typeof start>>

const refresh = async (running: Running, client: oauth.Client, token: string) =>
  oauth.processRefreshTokenResponse(running.as, client, await oauth.refreshTokenGrantRequest(running.as, client, oauth.None(), token, insecure))

t.test('an OAuth request for offline_access gets a refresh token without prompt=consent, after consent', async (t) => {
  const running = await start(t)
  const client = await registerPublicClient(running.as)
  const tokens = await codeFlowTokens(running, client, { scope: 'mcp:tools:read offline_access' })
  t.type(tokens.refresh_token, 'string', 'a refresh token')
  t.same(running.asked, [['mcp:tools:read', 'offline_access']], 'the user was asked for offline_access')
  t.equal(decodeJwt(tokens.access_token).scope, 'mcp:tools:read', 'offline_access is not a scope of the resource')
  const rotated = await refresh(running, client, tokens.refresh_token as string)
  t.not(rotated.refresh_token, tokens.refresh_token, 'and it refreshes (rotated)')
  t.equal(decodeJwt(rotated.access_token).aud, RESOURCE)
})

t.test('offline_access alone: the resource\'s default scopes, and a refresh token', async (t) => {
  const running = await start(t)
  const client = await registerPublicClient(running.as)
  const tokens = await codeFlowTokens(running, client, { scope: 'offline_access' })
  t.equal(decodeJwt(tokens.access_token).scope, 'mcp:tools:read')
  t.type(tokens.refresh_token, 'string')
  // The same with prompt=consent (where oidc-provider keeps offline_access itself).
  const prompted = await codeFlowTokens(running, client, { scope: 'offline_access', prompt: 'consent' })
  t.equal(decodeJwt(prompted.access_token).scope, 'mcp:tools:read')
  t.type(prompted.refresh_token, 'string')
})

t.test('a pushed request (PAR) for offline_access gets a refresh token without prompt=consent', async (t) => {
  const running = await start(t)
  const client = await registerPublicClient(running.as)
  const verifier = oauth.generateRandomCodeVerifier()
  const parameters = new URLSearchParams({ redirect_uri: REDIRECT_URI, response_type: 'code', code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', resource: RESOURCE, scope: 'mcp:tools:read offline_access' })
  const pushed = await oauth.processPushedAuthorizationResponse(running.as, client, await oauth.pushedAuthorizationRequest(running.as, client, oauth.None(), parameters, insecure))
  const url = new URL(running.as.authorization_endpoint as string)
  url.searchParams.set('client_id', client.client_id)
  url.searchParams.set('request_uri', pushed.request_uri)
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const result = oauth.validateAuthResponse(running.as, client, callback)
  const tokens = await oauth.processAuthorizationCodeResponse(running.as, client, await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, insecure))
  t.type(tokens.refresh_token, 'string')
  t.same(running.asked, [['mcp:tools:read', 'offline_access']])
})

t.test('no refresh token when the user declines offline_access at consent', async (t) => {
  const running = await start(t, {}, ['mcp:tools:read'])
  const client = await registerPublicClient(running.as)
  const tokens = await codeFlowTokens(running, client, { scope: 'mcp:tools:read offline_access' })
  t.equal(tokens.refresh_token, undefined)
  t.equal(decodeJwt(tokens.access_token).scope, 'mcp:tools:read')
})

t.test('no refresh token, and offline_access not even asked, for a client without the refresh_token grant', async (t) => {
  const running = await start(t)
  const client = await registerPublicClient(running.as, { grant_types: ['authorization_code'] })
  const tokens = await codeFlowTokens(running, client, { scope: 'mcp:tools:read offline_access' })
  t.equal(tokens.refresh_token, undefined)
  t.same(running.asked, [['mcp:tools:read']], 'the consent step was not asked for offline_access')
})

t.test('a client bound to scopes without offline_access gets invalid_scope, as with prompt=consent', async (t) => {
  const bound = { client_id: 'bound', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'mcp:tools:read' }
  const running = await start(t, { clients: { static: [bound] } })
  for (const prompt of [undefined, 'consent']) {
    const { url } = await authorizationUrl(running.as, { client_id: 'bound' }, { scope: 'mcp:tools:read offline_access', prompt })
    const res = await fetch(url, { redirect: 'manual' })
    t.equal(new URL(String(res.headers.get('location'))).searchParams.get('error'), 'invalid_scope', `prompt=${String(prompt)}`)
  }
})

t.test('OpenID requests keep OpenID Connect\'s rule: offline_access only with prompt=consent', async (t) => {
  const running = await start(t)
  const client = await registerPublicClient(running.as)
  const withoutPrompt = await codeFlowTokens(running, client, { scope: 'openid offline_access', resource: undefined })
  t.equal(withoutPrompt.refresh_token, undefined, 'dropped without prompt=consent')
  t.same(running.asked.at(-1), ['openid'], 'and not asked for')
  const withPrompt = await codeFlowTokens(running, client, { scope: 'openid offline_access', resource: undefined, prompt: 'consent' })
  t.type(withPrompt.refresh_token, 'string', 'kept with prompt=consent')
})
