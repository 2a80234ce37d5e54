// What `oauth.fetch` does, in order: send the request with the credential this
// client holds for the server's resource (refreshed first when expired); on a
// 401 rediscover (resource, authorization server, client ID), take a newer
// stored credential or refresh once, else authorize; on a 403
// insufficient_scope authorize again with the union of scopes (SEP-2350); at
// most `maxAttempts` authorizations per resource and operation; then resend.
import { LRUCache } from 'lru-cache'
import * as oauth from 'oauth4webapi'
import type { AuthorizeContext, SignOutOptions, SignOutResult } from '../../types/client.js'
import { completeAuthorization, startAuthorization } from './authorization.js'
import { bindServer } from './binding.js'
import type { Binding } from './binding.js'
import { completeDeferred } from './callback.js'
import { readChallenge } from './challenge.js'
import type { ClientContext } from './context.js'
import { credentialFromTokens, isExpired } from './credentials.js'
import type { DpopKey, DpopRoleHandles } from './dpop.js'
import { createDpopKeys } from './dpop-keys.js'
import { fail, isMcpClientError, McpAuthorizationRequiredError } from './errors.js'
import { clientCredentials, jwtBearer, refreshTokens } from './grants.js'
import type { TokenRequestContext } from './grants.js'
import type { ResolvedClientOptions } from './options.js'
import { credentialKey, pendingKey, readCredential, toStored } from './records.js'
import type { CredentialRecord } from './records.js'
import { createRefresher } from './refresh.js'
import { createRegistrar } from './registration.js'
import type { RegisteredClient } from './registration.js'
import { prepareRequest } from './request.js'
import type { McpRequest } from './request.js'
import { canonicalServerUrl } from './resource-metadata.js'
import { sendToResource } from './resource-request.js'
import { selectScope } from './scope.js'
import { signOut } from './sign-out.js'

/** Who the request is made for, and how a needed authorization reaches them. */
export interface Session {
  /** The credential space ('' for a single-user client; the app user in mcpClient). */
  readonly partition: string
  /** Run `options.authorize` now, or record the authorization and throw McpAuthorizationRequiredError. */
  readonly authorization: { readonly mode: 'interactive' } | { readonly mode: 'deferred', readonly returnTo: string }
}

export interface Engine {
  fetch (session: Session, input: string | URL | Request, init?: RequestInit): Promise<Response>
  signOut (partition: string, options?: SignOutOptions): Promise<SignOutResult>
  /** Completes a deferred authorization from its callback URL; resolves with where to send the user. */
  completeDeferred (partition: string, callback: URL): Promise<{ readonly returnTo: string }>
}

/** How long a deferred authorization waits for its callback (seconds). */
export const PENDING_TTL = 600

export function createEngine (options: ResolvedClientOptions): Engine {
  const { store, outbound } = options
  const registrar = createRegistrar(options)
  const refresher = createRefresher({ store, lockTtl: options.timeout + 5 })
  const keys = createDpopKeys(options.dpop)
  const bindings = new LRUCache<string, Binding>({ max: 1000 })
  const attempts = new LRUCache<string, number>({ max: 10_000 })
  const obtaining = new Map<string, Promise<CredentialRecord | undefined>>()

  const keyOf = (partition: string, binding: Binding): string => credentialKey(partition, binding.as.issuer, binding.client.clientId, binding.resource)
  // Step-up attempts are counted per user, resource and operation (MCP "Step-Up Authorization Flow").
  const attemptKeyOf = (partition: string, binding: Binding, request: McpRequest): string => `${partition}\n${binding.resource}\n${request.operation}`

  async function storedCredential (key: string): Promise<CredentialRecord | undefined> {
    return readCredential(await store.get(key))
  }

  function tokenContext (as: oauth.AuthorizationServer, client: RegisteredClient, key: DpopKey | undefined): TokenRequestContext {
    return { as, client, outbound, dpop: key === undefined ? undefined : keys.handles(key) }
  }

  // ——— refresh ———

  async function refresh (key: string, binding: Binding, seen: CredentialRecord): Promise<CredentialRecord | undefined> {
    return await refresher(key, seen, async (latest) => {
      const refreshToken = latest.refreshToken
      if (refreshToken === undefined) return undefined
      const dpopKey = await keys.of(latest.dpopKey)
      try {
        const tokens = await refreshTokens(tokenContext(binding.as, binding.client, dpopKey), refreshToken, latest.resource)
        return credentialFromTokens(tokens, { issuer: latest.issuer, clientId: latest.clientId, resource: latest.resource, requestedScope: undefined, dpopKey: latest.dpopKey, previous: latest })
      } catch (err) {
        // A dead refresh token (revoked, expired, reused) ends this credential; anything else keeps it.
        if (isMcpClientError(err) && err.oauthError === 'invalid_grant') return undefined
        throw err
      }
    })
  }

  /** The credential to send: the stored one, refreshed first when expired; undefined when none is usable. */
  async function usable (key: string, binding: Binding, credential: CredentialRecord | undefined, state: { refreshed: boolean }): Promise<CredentialRecord | undefined> {
    if (credential === undefined || !isExpired(credential)) return credential
    if (credential.refreshToken === undefined || state.refreshed) return undefined
    state.refreshed = true
    const next = await refresh(key, binding, credential)
    return next === undefined || isExpired(next) ? undefined : next
  }

  async function presented (credential: CredentialRecord | undefined): Promise<{ accessToken: string, dpop: DpopRoleHandles | undefined } | undefined> {
    if (credential === undefined) return undefined
    if (credential.tokenType !== 'dpop') return { accessToken: credential.accessToken, dpop: undefined }
    const key = await keys.of(credential.dpopKey)
    if (key === undefined) throw fail.token('token.invalid_response', 'the stored token is DPoP-bound but no DPoP key is configured for it')
    return { accessToken: credential.accessToken, dpop: keys.handles(key) }
  }

  // ——— obtaining tokens ———

  async function authorizeInteractively (session: Session, binding: Binding, key: string, scope: string | undefined, previous: CredentialRecord | undefined): Promise<CredentialRecord> {
    const redirectUri = options.redirectUri as string
    const dpopKey = await keys.fresh()
    const { url, pending } = await startAuthorization(binding, {
      scope,
      redirectUri,
      partition: session.partition,
      returnTo: session.authorization.mode === 'deferred' ? session.authorization.returnTo : '/',
      allowMissingPkceMetadata: options.allowMissingPkceMetadata,
      dpopKey,
    })
    if (session.authorization.mode === 'deferred') {
      await store.set(pendingKey(pending.state), toStored(pending), PENDING_TTL)
      throw new McpAuthorizationRequiredError(url.href)
    }
    const authorize = options.authorize
    if (authorize === undefined) throw fail.authorization('authorization.no_authorizer', 'the user must authorize, and no authorize function is configured')
    const context: AuthorizeContext = Object.freeze({ state: pending.state, redirectUri, issuer: binding.as.issuer, resource: binding.resource })
    let callback: URL | string
    try {
      callback = await authorize(url, context)
    } catch (err) {
      if (isMcpClientError(err)) throw err
      throw fail.authorization('authorization.authorizer_failed', 'the authorize function failed', { cause: err })
    }
    const tokens = await completeAuthorization(tokenContext(binding.as, binding.client, dpopKey), pending, callback)
    const record = credentialFromTokens(tokens, { issuer: binding.as.issuer, clientId: binding.client.clientId, resource: binding.resource, requestedScope: scope, dpopKey: dpopKey?.privateJwk, previous })
    await store.set(key, toStored(record))
    return record
  }

  async function obtainByGrant (session: Session, binding: Binding, key: string, scope: string | undefined, previous: CredentialRecord | undefined): Promise<CredentialRecord> {
    const grant = options.grant
    const dpopKey = await keys.fresh()
    const context = tokenContext(binding.as, binding.client, dpopKey)
    const tokens = grant.type === 'jwt-bearer'
      ? await jwtBearer(context, grant.assertion, { resource: binding.resource, scope, partition: session.partition })
      : await clientCredentials(context, binding.resource, scope)
    const record = credentialFromTokens(tokens, { issuer: binding.as.issuer, clientId: binding.client.clientId, resource: binding.resource, requestedScope: scope, dpopKey: dpopKey?.privateJwk, previous })
    await store.set(key, toStored(record))
    return record
  }

  /** Concurrent callers needing a token for the same credential share one authorization. */
  async function obtain (session: Session, binding: Binding, key: string, scope: string | undefined, previous: CredentialRecord | undefined): Promise<CredentialRecord | undefined> {
    let pending = obtaining.get(key)
    if (pending === undefined) {
      pending = (options.grant.type === 'authorization_code'
        ? authorizeInteractively(session, binding, key, scope, previous)
        : obtainByGrant(session, binding, key, scope, previous)
      ).finally(() => obtaining.delete(key))
      obtaining.set(key, pending)
    }
    return await pending
  }

  // ——— the request loop ———

  async function rebind (request: McpRequest, response: Response): Promise<Binding> {
    const binding = await bindServer(request.url, readChallenge(response), options, registrar)
    bindings.set(binding.serverUrl, binding)
    return binding
  }

  async function fetchFor (session: Session, input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = await prepareRequest(input, init)
    const state = { refreshed: false }
    let binding = bindings.get(canonicalServerUrl(request.url).href)
    let credential: CredentialRecord | undefined
    if (binding !== undefined) {
      const key = keyOf(session.partition, binding)
      credential = await usable(key, binding, await storedCredential(key), state)
    }
    for (;;) {
      const response = await sendToResource(request, await presented(credential), outbound)
      const challenge = response.status === 401 || response.status === 403 ? readChallenge(response) : undefined
      const stepUp = response.status === 403 && challenge?.error === 'insufficient_scope'
      if (response.status !== 401 && !stepUp) {
        if (credential !== undefined && binding !== undefined) attempts.delete(attemptKeyOf(session.partition, binding, request))
        return response
      }
      if (response.status === 401 || binding === undefined) binding = await rebind(request, response)
      const key = keyOf(session.partition, binding)
      const stored = await storedCredential(key)
      if (response.status === 401 && stored !== undefined) {
        // A newer token (another request, another process, a restart) or a refresh may do.
        if (stored.accessToken !== credential?.accessToken && !isExpired(stored)) {
          await response.body?.cancel()
          credential = stored
          continue
        }
        if (stored.refreshToken !== undefined && !state.refreshed) {
          state.refreshed = true
          const next = await refresh(key, binding, stored)
          if (next !== undefined) {
            await response.body?.cancel()
            credential = next
            continue
          }
        }
      }
      const attemptKey = attemptKeyOf(session.partition, binding, request)
      const used = attempts.get(attemptKey) ?? 0
      // Retry budget spent: the server's answer is the caller's answer.
      if (used >= options.maxAttempts) return response
      attempts.set(attemptKey, used + 1)
      await response.body?.cancel()
      const previous = stored ?? credential
      const scope = selectScope({
        challenged: challenge?.scope,
        supported: binding.scopesSupported,
        previous: [previous?.requestedScope, previous?.scope],
        serverSupported: binding.as.scopes_supported,
        offlineAccess: options.offlineAccess && options.grant.type === 'authorization_code',
      })
      credential = await obtain(session, binding, key, scope, previous)
      state.refreshed = true
    }
  }

  const context: ClientContext = { store, outbound, registrar, keys, tokenContext }
  return {
    fetch: fetchFor,
    signOut: async (partition, signOutOptions) => await signOut(context, partition, signOutOptions),
    completeDeferred: async (partition, callback) => await completeDeferred(context, partition, callback),
  }
}
