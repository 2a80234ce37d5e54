// Authorization-server metadata discovery (RFC 8414 §3, then OpenID Connect
// Discovery), cached per issuer. The discovered `issuer` must equal the
// configured one exactly (RFC 8414 §3.3); anything else is an outage (503),
// never a reason to trust a different issuer.
import { reject } from './errors.js'
import { fetchJson, isJsonObject } from './http.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'
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
}

export interface IssuerMetadataCache {
  get (issuer: string): Promise<IssuerMetadata>
}

interface Entry {
  metadata: IssuerMetadata | undefined
  fetchedAt: number
  attemptedAt: number
  lastError: unknown
  inflight: Promise<IssuerMetadata> | undefined
}

export function createIssuerMetadataCache (options: DiscoveryOptions): IssuerMetadataCache {
  const entries = new Map<string, Entry>()

  async function fetchMetadata (issuer: string): Promise<IssuerMetadata> {
    for (const url of authorizationServerMetadataUrls(issuer)) {
      const { status, json } = await fetchJson(url, { timeoutMs: options.timeoutMs })
      // 4xx: not published here, try the next well-known location.
      if (status >= 400 && status < 500) continue
      if (status !== 200 || !isJsonObject(json)) throw new Error(`unexpected response ${status} from ${url}`)
      if (json.issuer !== issuer) {
        throw new Error(`metadata at ${url} names issuer ${JSON.stringify(json.issuer)}, expected ${JSON.stringify(issuer)}`)
      }
      for (const field of ['jwks_uri', 'introspection_endpoint'] as const) {
        if (json[field] !== undefined && !isAcceptableEndpoint(json[field])) {
          throw new Error(`metadata at ${url} has an unacceptable ${field} (https required)`)
        }
      }
      return Object.freeze({ ...json }) as IssuerMetadata
    }
    throw new Error(`no authorization server metadata found for ${issuer}`)
  }

  const failureBackoff = Math.min(options.cooldownMs, 2000)

  function refresh (issuer: string, entry: Entry): Promise<IssuerMetadata> {
    entry.inflight ??= (async () => {
      entry.attemptedAt = options.nowMs()
      try {
        const metadata = await fetchMetadata(issuer)
        entry.metadata = metadata
        entry.fetchedAt = options.nowMs()
        entry.lastError = undefined
        return metadata
      } catch (err) {
        entry.lastError = err
        throw err
      } finally {
        entry.inflight = undefined
      }
    })()
    return entry.inflight
  }

  return {
    async get (issuer) {
      let entry = entries.get(issuer)
      if (entry === undefined) {
        entry = { metadata: undefined, fetchedAt: 0, attemptedAt: Number.NEGATIVE_INFINITY, lastError: undefined, inflight: undefined }
        entries.set(issuer, entry)
      }
      const now = options.nowMs()
      const age = now - entry.fetchedAt
      if (entry.metadata !== undefined && age < options.maxAgeMs + options.staleIfErrorMs) {
        // Fresh, or stale but usable: answer now; refresh in the background at most once per cooldown.
        if (age >= options.maxAgeMs && entry.inflight === undefined && now - entry.attemptedAt >= options.cooldownMs) {
          refresh(issuer, entry).catch((err) => {
            options.logger.warn({ issuer, err: describeError(err) }, 'mcp-auth: issuer metadata refresh failed, using the cached document')
          })
        }
        return entry.metadata
      }
      if (entry.inflight === undefined && entry.lastError !== undefined && now - entry.attemptedAt < failureBackoff) {
        throw reject.unavailable('discovery.failed', entry.lastError)
      }
      try {
        return await refresh(issuer, entry)
      } catch (err) {
        options.logger.error({ issuer, err: describeError(err) }, 'mcp-auth: issuer metadata discovery failed')
        throw reject.unavailable('discovery.failed', err)
      }
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
