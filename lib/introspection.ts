// RFC 7662 token introspection, authenticated as this resource server with
// client_secret_basic (RFC 6749 §2.3.1). Any failure to get a clear answer
// from the endpoint is an outage (503, RFC 7662 §2.3), never a 401.
import { checkTimes, toVerifiedToken } from './claims.js'
import type { VerifiedToken } from './claims.js'
import type { Clock } from './clock.js'
import type { IssuerMetadataCache } from './discovery.js'
import { isMcpAuthError, reject } from './errors.js'
import { fetchJson, isJsonObject } from './http.js'
import type { Logger } from './logger.js'
import { describeError } from './logger.js'

export interface IntrospectorOptions {
  readonly endpoint: string | undefined
  readonly clientId: string
  readonly clientSecret: string
  readonly timeoutMs: number
  readonly clockTolerance: number
  readonly clock: Clock
  /** Every trusted issuer; an `iss` in the answer must be one of them. */
  readonly issuers: ReadonlySet<string>
  /** Used to find the endpoint when none is configured (single issuer). */
  readonly discovery: IssuerMetadataCache
  readonly logger: Logger
}

export type Introspector = (token: string) => Promise<VerifiedToken>

const ACCESS_TOKEN_TYPES = new Set(['bearer', 'dpop'])

export function createIntrospector (options: IntrospectorOptions): Introspector {
  const authorization = 'Basic ' + Buffer.from(
    `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`
  ).toString('base64')
  const [onlyIssuer] = options.issuers

  async function endpoint (): Promise<string> {
    if (options.endpoint !== undefined) return options.endpoint
    const metadata = await options.discovery.get(onlyIssuer as string)
    if (typeof metadata.introspection_endpoint !== 'string') {
      throw reject.unavailable('introspection.failed', new Error('issuer metadata has no introspection_endpoint'))
    }
    return metadata.introspection_endpoint
  }

  return async function introspect (token) {
    const url = await endpoint()
    let answer: Record<string, unknown>
    try {
      const { status, json } = await fetchJson(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        timeoutMs: options.timeoutMs,
      })
      if (status !== 200 || !isJsonObject(json)) throw new Error(`unexpected introspection response (status ${status})`)
      answer = json
    } catch (err) {
      if (isMcpAuthError(err)) throw err
      options.logger.error({ endpoint: url, err: describeError(err) }, 'mcp-auth: token introspection failed')
      throw reject.unavailable('introspection.failed', err)
    }
    // `active` is a REQUIRED boolean; anything but true is an inactive token.
    if (answer.active !== true) throw reject.invalidToken('token.inactive')
    // An access token, not a refresh token or anything else the endpoint knows (RFC 7662 §2.2, RFC 9449 §7.1).
    const type = answer.token_type
    if (type !== undefined && (typeof type !== 'string' || !ACCESS_TOKEN_TYPES.has(type.toLowerCase()))) throw reject.invalidToken('token.typ')
    const iss = answer.iss
    if (iss !== undefined && (typeof iss !== 'string' || !options.issuers.has(iss))) throw reject.invalidToken('token.issuer')
    checkTimes(answer, { now: Math.floor(options.clock() / 1000), clockTolerance: options.clockTolerance, requireExp: false })
    const { active: _active, ...claims } = answer
    return toVerifiedToken(claims, typeof iss === 'string' ? iss : undefined)
  }
}
