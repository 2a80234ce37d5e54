// Getting a client ID from an authorization server, in MCP's order of
// preference: pre-registered for that issuer, then its URL-based client ID
// (CIMD) when the server supports it, then dynamic registration (RFC 7591),
// whose result is kept per issuer so a changed authorization server always
// means a new registration (MCP "Authorization Server Binding", SEP-2352).
import * as oauth from 'oauth4webapi'
import type { ClientAuthentication } from '../../types/client.js'
import { fail, isMcpClientError, scrubbed } from './errors.js'
import type { ResolvedClientOptions } from './options.js'
import { readRegistration, registrationKey, toStored } from './records.js'
import type { RegistrationRecord } from './records.js'

export interface RegisteredClient {
  readonly issuer: string
  readonly clientId: string
  readonly auth: ClientAuthentication
  readonly source: 'pre-registered' | 'client-metadata-document' | 'dynamic-registration'
}

const NONE: ClientAuthentication = Object.freeze({ method: 'none' })

function authFromRecord (record: RegistrationRecord): ClientAuthentication {
  if ((record.method === 'client_secret_basic' || record.method === 'client_secret_post') && record.clientSecret !== undefined) {
    return { method: record.method, secret: record.clientSecret }
  }
  return NONE
}

function methodOf (client: Record<string, unknown>): string {
  const method = client.token_endpoint_auth_method
  if (typeof method === 'string') return method
  // RFC 7591 §2: the default is client_secret_basic, which needs a secret.
  return typeof client.client_secret === 'string' ? 'client_secret_basic' : 'none'
}

/**
 * RFC 7591 §3.2.1 requires `client_secret_expires_at` beside a secret; servers
 * that omit it (the MCP conformance suite's among them) mean a secret that does
 * not expire, which is what 0 says. oauth4webapi still checks everything else.
 */
async function withSecretExpiry (response: Response): Promise<Response> {
  if (response.status !== 201) return response
  let body: unknown
  try {
    body = await response.clone().json()
  } catch {
    return response
  }
  const client = body as Record<string, unknown>
  if (typeof body !== 'object' || body === null || client.client_secret === undefined || client.client_secret_expires_at !== undefined) return response
  await response.body?.cancel()
  return new Response(JSON.stringify({ ...client, client_secret_expires_at: 0 }), { status: response.status, headers: response.headers })
}

async function register (as: oauth.AuthorizationServer, options: ResolvedClientOptions, metadata: Readonly<Record<string, unknown>>): Promise<RegistrationRecord> {
  let client: Record<string, unknown>
  try {
    const response = await oauth.dynamicClientRegistrationRequest(as, metadata as Partial<oauth.OmitSymbolProperties<oauth.Client>>, {
      [oauth.customFetch]: options.outbound.oauth,
      [oauth.allowInsecureRequests]: true,
    })
    client = await oauth.processDynamicClientRegistrationResponse(await withSecretExpiry(response))
  } catch (err) {
    throw fail.registration('registration.failed', `dynamic client registration at ${as.issuer} failed`, isMcpClientError(err) ? err : scrubbed(err))
  }
  const method = methodOf(client)
  if (!['none', 'client_secret_basic', 'client_secret_post'].includes(method)) {
    throw fail.registration('registration.failed', `dynamic client registration at ${as.issuer} assigned token_endpoint_auth_method ${method}, which this client cannot use`)
  }
  return Object.freeze({
    kind: 'registration',
    issuer: as.issuer,
    clientId: client.client_id as string,
    clientSecret: typeof client.client_secret === 'string' ? client.client_secret : undefined,
    method,
    registeredAt: Math.floor(Date.now() / 1000),
  })
}

export interface Registrar {
  /** The client ID to use at `as`, registering dynamically when nothing else applies. */
  register (as: oauth.AuthorizationServer): Promise<RegisteredClient>
  /** The client ID already known for `as` (never registers): for sign-out and callbacks. */
  find (as: oauth.AuthorizationServer): Promise<RegisteredClient | undefined>
}

/** Concurrent first requests to one issuer share one registration. */
export function createRegistrar (options: ResolvedClientOptions): Registrar {
  const inFlight = new Map<string, Promise<RegisteredClient>>()

  async function stored (as: oauth.AuthorizationServer, metadata: Readonly<Record<string, unknown>>): Promise<RegisteredClient | undefined> {
    // The key names the issuer: a record here was made with this authorization server.
    const record = readRegistration(await options.store.get(registrationKey(as.issuer, metadata)))
    if (record === undefined) return undefined
    return Object.freeze({ issuer: as.issuer, clientId: record.clientId, auth: authFromRecord(record), source: 'dynamic-registration' })
  }

  async function dynamic (as: oauth.AuthorizationServer, metadata: Readonly<Record<string, unknown>>): Promise<RegisteredClient> {
    const known = await stored(as, metadata)
    if (known !== undefined) return known
    const record = await register(as, options, metadata)
    await options.store.set(registrationKey(as.issuer, metadata), toStored(record))
    return Object.freeze({ issuer: as.issuer, clientId: record.clientId, auth: authFromRecord(record), source: 'dynamic-registration' })
  }

  // Pre-registered, then CIMD: fixed by configuration, no request needed.
  async function configured (as: oauth.AuthorizationServer): Promise<RegisteredClient | undefined> {
    const preRegistered = await options.preRegistered(as.issuer)
    if (preRegistered !== undefined) {
      return Object.freeze({ issuer: as.issuer, clientId: preRegistered.clientId, auth: preRegistered.auth ?? NONE, source: 'pre-registered' })
    }
    if (options.clientMetadataUrl !== undefined && as.client_id_metadata_document_supported === true) {
      return Object.freeze({ issuer: as.issuer, clientId: options.clientMetadataUrl, auth: NONE, source: 'client-metadata-document' })
    }
    return undefined
  }

  return {
    async register (as) {
      const known = await configured(as)
      if (known !== undefined) return known
      const metadata = options.registrationMetadata
      if (metadata !== undefined && typeof as.registration_endpoint === 'string') {
        let pending = inFlight.get(as.issuer)
        if (pending === undefined) {
          pending = dynamic(as, metadata).finally(() => inFlight.delete(as.issuer))
          inFlight.set(as.issuer, pending)
        }
        return await pending
      }
      throw fail.registration('registration.unavailable', `no client ID for ${as.issuer}: it is not in preRegistered, ${options.clientMetadataUrl === undefined ? 'no clientMetadataUrl is set' : 'it does not support client ID metadata documents'}, and ${metadata === undefined ? 'no clientMetadata is set for dynamic registration' : 'it has no registration endpoint'}`)
    },
    async find (as) {
      const known = await configured(as)
      if (known !== undefined) return known
      return options.registrationMetadata === undefined ? undefined : await stored(as, options.registrationMetadata)
    },
  }
}
