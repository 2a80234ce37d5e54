// Authorization-server metadata discovery (RFC 8414 §3, then OpenID Connect
// Discovery), one remote document per issuer (lib/remote-document.ts). The
// discovered `issuer` must equal the configured one exactly (RFC 8414 §3.3);
// anything else is an outage (503), never a reason to trust a different issuer.
// The configured issuers' documents are kept for good; tenants' issuers (from a
// resolver) share a bounded LRU, so 100,000 tenants cannot fill the memory.
import { LRUCache } from 'lru-cache'
import { reject } from './errors.js'
import { FetchFailure } from './fetch-failure.js'
import type { FetchLimit } from './fetch-limit.js'
import { fetchJson, isJsonObject } from './http.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'
import { createRemoteDocument } from './remote-document.js'
import type { DocumentStatus, RemoteDocument } from './remote-document.js'
import { isLoopbackHost } from './resource.js'
import { authorizationServerMetadataUrls } from './well-known.js'

export interface IssuerMetadata {
  readonly issuer: string
  readonly jwks_uri?: string
  readonly introspection_endpoint?: string
  readonly [field: string]: unknown
}

export interface DiscoveryOptions {
  readonly timeoutMs: number
  /** How long a document is used before it is fetched again. */
  readonly maxAgeMs: number
  /** How long a stale document may still be used while the issuer is unreachable. */
  readonly staleIfErrorMs: number
  /** Minimum time between two fetches after a failure or a stale refresh. */
  readonly cooldownMs: number
  readonly nowMs: () => number
  readonly logger: Logger
  /** Aborted when the app closes. */
  readonly signal?: AbortSignal
  /** The configured issuers: their documents are never evicted. */
  readonly pinned?: ReadonlySet<string>
  /** Most other (tenants') issuers whose documents are held (default 1000). */
  readonly maxIssuers?: number
  /** Shared by every issuer's fetches (and the JWKS fetches after them). */
  readonly limit?: FetchLimit
}

export interface IssuerMetadataCache {
  get (issuer: string): Promise<IssuerMetadata>
  /** Fetches an issuer's metadata now (start-up); rejects with the fetch's own error. */
  warmUp (issuer: string): Promise<IssuerMetadata>
  /** The last document held for the issuer, however old, and how its fetches went. */
  status (issuer: string): DocumentStatus & { readonly metadata: IssuerMetadata | undefined }
  /** The issuers held that are not configured (tenants'), least recently used last. */
  tenantIssuers (): string[]
}

const INSECURE = { jwks_uri: 'insecure_jwks_uri', introspection_endpoint: 'insecure_introspection_endpoint' } as const

async function fetchMetadata (issuer: string, options: DiscoveryOptions, signal: AbortSignal | undefined): Promise<IssuerMetadata> {
  let status = 0
  for (const url of authorizationServerMetadataUrls(issuer)) {
    const answer = await fetchJson(url, { timeoutMs: options.timeoutMs, signal })
    status = answer.status
    const json = answer.json
    // 4xx: not published here, try the next well-known location.
    if (status >= 400 && status < 500) continue
    if (status !== 200) throw new FetchFailure(`http_${status}`, `unexpected response ${status} from ${url}`)
    if (!isJsonObject(json)) throw new FetchFailure('invalid_response', `the response from ${url} is not a JSON object`)
    if (json.issuer !== issuer) {
      throw new FetchFailure('issuer_mismatch', `metadata at ${url} names issuer ${JSON.stringify(json.issuer)}, expected ${JSON.stringify(issuer)}`)
    }
    for (const field of ['jwks_uri', 'introspection_endpoint'] as const) {
      if (json[field] !== undefined && !isAcceptableEndpoint(json[field])) {
        throw new FetchFailure(INSECURE[field], `metadata at ${url} has an unacceptable ${field} (https required)`)
      }
    }
    return Object.freeze({ ...json }) as IssuerMetadata
  }
  throw new FetchFailure(`http_${status}`, `no authorization server metadata found for ${issuer}`)
}

export function createIssuerMetadataCache (options: DiscoveryOptions): IssuerMetadataCache {
  const pinned = options.pinned ?? new Set()
  // Configured issuers come from the options: that map stays small.
  const configured = new Map<string, RemoteDocument<IssuerMetadata>>()
  const tenants = new LRUCache<string, RemoteDocument<IssuerMetadata>>({ max: options.maxIssuers ?? 1000 })
  const { limit } = options

  const held = (issuer: string): RemoteDocument<IssuerMetadata> | undefined => pinned.has(issuer) ? configured.get(issuer) : tenants.get(issuer)

  function documentOf (issuer: string): RemoteDocument<IssuerMetadata> {
    let document = held(issuer)
    if (document === undefined) {
      document = createRemoteDocument({
        ...options,
        fetch: (signal) => limit === undefined ? fetchMetadata(issuer, options, signal) : limit.run(() => fetchMetadata(issuer, options, signal), signal),
        unavailable: (cause) => reject.unavailable('discovery.failed', cause),
        failed (cause, err, kept) {
          if (kept) options.logger.warn({ issuer, cause, err: describeError(err) }, 'mcp-auth: issuer metadata refresh failed, using the cached document')
          else options.logger.error({ issuer, cause, err: describeError(err) }, 'mcp-auth: issuer metadata discovery failed')
        },
      })
      if (pinned.has(issuer)) configured.set(issuer, document)
      else tenants.set(issuer, document)
    }
    return document
  }

  return {
    get: (issuer) => documentOf(issuer).get(),
    warmUp: (issuer) => documentOf(issuer).warmUp(),
    status (issuer) {
      // A peek: reporting does not make an issuer recently used.
      const document = pinned.has(issuer) ? configured.get(issuer) : tenants.peek(issuer)
      return { fetchedAt: undefined, cause: undefined, attemptedAt: undefined, ...document?.status(), metadata: document?.latest() }
    },
    tenantIssuers: () => [...tenants.keys()],
  }
}

function isAcceptableEndpoint (value: unknown): boolean {
  if (typeof value !== 'string') return false
  try {
    const url = new URL(value)
    // No user info: these URLs reach log lines and the health route.
    if (url.username !== '' || url.password !== '') return false
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
  } catch {
    return false
  }
}
