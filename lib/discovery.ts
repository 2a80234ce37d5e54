// Authorization-server metadata discovery (RFC 8414 §3, then OpenID Connect
// Discovery), one remote document per issuer (lib/remote-document.ts). The
// discovered `issuer` must equal the configured one exactly (RFC 8414 §3.3);
// anything else is an outage (503), never a reason to trust a different issuer.
import { reject } from './errors.js'
import { FetchFailure } from './fetch-failure.js'
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
}

export interface IssuerMetadataCache {
  get (issuer: string): Promise<IssuerMetadata>
  /** Fetches an issuer's metadata now (start-up); rejects with the fetch's own error. */
  warmUp (issuer: string): Promise<IssuerMetadata>
  /** The last document held for the issuer, however old, and how its fetches went. */
  status (issuer: string): DocumentStatus & { readonly metadata: IssuerMetadata | undefined }
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
  const documents = new Map<string, RemoteDocument<IssuerMetadata>>()

  // Issuers come from the configuration (tokens name only trusted ones): the map stays small.
  function documentOf (issuer: string): RemoteDocument<IssuerMetadata> {
    let document = documents.get(issuer)
    if (document === undefined) {
      document = createRemoteDocument({
        ...options,
        fetch: (signal) => fetchMetadata(issuer, options, signal),
        unavailable: (cause) => reject.unavailable('discovery.failed', cause),
        failed (cause, err, kept) {
          if (kept) options.logger.warn({ issuer, cause, err: describeError(err) }, 'mcp-auth: issuer metadata refresh failed, using the cached document')
          else options.logger.error({ issuer, cause, err: describeError(err) }, 'mcp-auth: issuer metadata discovery failed')
        },
      })
      documents.set(issuer, document)
    }
    return document
  }

  return {
    get: (issuer) => documentOf(issuer).get(),
    warmUp: (issuer) => documentOf(issuer).warmUp(),
    status (issuer) {
      const document = documents.get(issuer)
      return { fetchedAt: undefined, cause: undefined, ...document?.status(), metadata: document?.latest() }
    },
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
