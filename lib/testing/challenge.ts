// Checking an OAuth rejection: the status, the WWW-Authenticate challenge a
// client reads (error, scope, resource_metadata, algs, order), and the
// project's own Cache-Control: no-store on every 4xx.
import type { HttpResponseLike } from './exchange.js'
import { assertionError, header, show } from './report.js'
import type { Context } from './report.js'
import { parseWwwAuthenticate } from '../www-authenticate.js'
import type { Challenge } from '../www-authenticate.js'

export interface ChallengeExpectation {
  /** Expected status code; omitted: any status, but a challenge must be present. */
  status?: number
  /** Which challenge to check (case-insensitive); default: the first one. */
  scheme?: string
  /** The `error` parameter; `null`: the challenge must have none. */
  error?: string | null
  /** The `scope` parameter, compared as a set; `null`: the challenge must have none. */
  scope?: string | readonly string[] | null
  /**
   * The `resource_metadata` parameter, compared exactly. Omitted: on a 401 the
   * checked challenge must carry an absolute one (`https:`, or `http:` on
   * loopback), since an MCP client finds the authorization server through it.
   * `false`: not checked.
   */
  resourceMetadata?: string | false
  /** The `algs` parameter (DPoP), compared as a set. */
  algs?: string | readonly string[]
  /** The checked challenge must be the first one (MCP SDK v1 clients read only the first). */
  first?: boolean
}

/**
 * Asserts that a response carries the expected challenge, and Cache-Control:
 * no-store when it is a 4xx. Returns every parsed challenge.
 */
export function assertChallenge (response: HttpResponseLike, expected: ChallengeExpectation = {}): Challenge[] {
  const { problems, challenges } = checkChallenge(response, expected)
  if (problems.length > 0) {
    throw assertionError({ helper: 'assertChallenge', step: 'the response does not carry the expected challenge' }, problems, { response, hint: challengeHint(challenges, expected), stackStartFn: assertChallenge })
  }
  return challenges
}

/** Every way the response misses the expectation, as readable lines. */
export function checkChallenge (response: HttpResponseLike, expected: ChallengeExpectation): { problems: string[], challenges: Challenge[] } {
  const problems: string[] = []
  if (expected.status !== undefined && response.statusCode !== expected.status) {
    problems.push(`status: expected ${expected.status}, got ${response.statusCode}`)
  }
  if (response.statusCode >= 400 && response.statusCode < 500 && !hasNoStore(response)) {
    problems.push(`Cache-Control: expected no-store on a ${response.statusCode}, got ${show(header(response, 'cache-control'))}`)
  }
  let challenges: Challenge[]
  try {
    challenges = parseWwwAuthenticate(response.headers['www-authenticate'])
  } catch (err) {
    problems.push((err as Error).message)
    return { problems, challenges: [] }
  }
  const challenge = expected.scheme === undefined ? challenges[0] : challenges.find((c) => sameScheme(c, expected.scheme))
  if (challenge === undefined) {
    problems.push(challenges.length === 0
      ? 'WWW-Authenticate: expected a challenge, got none'
      : `WWW-Authenticate: expected a ${expected.scheme} challenge, got only ${challenges.map((c) => c.scheme).join(', ')}`)
    return { problems, challenges }
  }
  const where = `${challenge.scheme} challenge`
  if (expected.first === true && challenge !== challenges[0]) {
    problems.push(`WWW-Authenticate: expected the ${challenge.scheme} challenge first (MCP SDK v1 clients read only the first), got ${challenges.map((c) => c.scheme).join(', ')}`)
  }
  const { error, scope, resource_metadata: resourceMetadata, algs } = challenge.params
  if (expected.error === null && error !== undefined) problems.push(`${where}: expected no error parameter, got error="${error}"`)
  if (typeof expected.error === 'string' && error !== expected.error) problems.push(`${where}: expected error="${expected.error}", got ${param(error)}`)
  if (expected.scope === null && scope !== undefined) problems.push(`${where}: expected no scope parameter, got scope="${scope}"`)
  if (expected.scope !== undefined && expected.scope !== null && !sameSet(scope, expected.scope)) {
    problems.push(`${where}: expected scope="${words(expected.scope).join(' ')}" (any order), got ${param(scope)}`)
  }
  if (typeof expected.resourceMetadata === 'string' && resourceMetadata !== expected.resourceMetadata) {
    problems.push(`${where}: expected resource_metadata="${expected.resourceMetadata}", got ${param(resourceMetadata)}`)
  }
  if (expected.resourceMetadata === undefined && response.statusCode === 401 && !isMetadataUrl(resourceMetadata)) {
    problems.push(`${where}: expected an absolute resource_metadata URL on a 401 (https:, or http: on loopback; RFC 9728 §5.1, required by MCP), got ${param(resourceMetadata)}`)
  }
  if (expected.algs !== undefined && !sameSet(algs, expected.algs)) {
    problems.push(`${where}: expected algs="${words(expected.algs).join(' ')}" (any order), got ${param(algs)}`)
  }
  return { problems, challenges }
}

function challengeHint (challenges: readonly Challenge[], expected: ChallengeExpectation): string | undefined {
  if (expected.scheme !== undefined && expected.scheme.toLowerCase() === 'dpop' && challenges.length > 0 && !challenges.some((c) => sameScheme(c, 'dpop'))) {
    return 'no DPoP challenge: is DPoP turned off (dpop: false)?'
  }
  return undefined
}

// ——— Rejections ———

export type OAuthScheme = 'Bearer' | 'DPoP'

export interface Rejection {
  /** The OAuth error code the challenge must carry; undefined: any or none (an unsupported scheme). */
  readonly error: string | undefined
  /** The challenge that must carry it (RFC 9449 §7.2: the scheme the client used); omitted: Bearer or DPoP. */
  readonly scheme?: OAuthScheme | undefined
  /** What the server must change when it accepted the request. */
  readonly fix?: string | undefined
}

/** A 401 whose Bearer or DPoP challenge (never another scheme's) carries the error; throws an AssertionError otherwise. */
export function expectRejected (context: Context, response: HttpResponseLike, rejection: Rejection): void {
  const challenges = challengesOf(response)
  const oauth = challenges.filter((c) => sameScheme(c, 'bearer') || sameScheme(c, 'dpop'))
  const scheme = rejection.scheme ?? (oauth.find((c) => c.params.error !== undefined) ?? oauth[0])?.scheme ?? 'Bearer'
  const { problems } = checkChallenge(response, { status: 401, error: rejection.error, scheme })
  const misplaced = challenges.find((c) => !oauth.includes(c) && c.params.error !== undefined)
  if (misplaced !== undefined) problems.push(`error="${misplaced.params.error}" is in a ${misplaced.scheme} challenge: OAuth clients read it only from the Bearer or DPoP challenge`)
  if (problems.length === 0) return
  const accepted = response.statusCode >= 200 && response.statusCode < 300
  throw assertionError(context, problems, {
    response,
    fix: accepted ? rejection.fix : undefined,
    hint: challengeHint(challenges, { scheme }),
  })
}

// ——— Reading responses ———

/** Challenges, or none when the header is absent or malformed (checkChallenge reports that). */
export function challengesOf (response: HttpResponseLike): Challenge[] {
  try {
    return parseWwwAuthenticate(response.headers['www-authenticate'])
  } catch {
    return []
  }
}

export const challengeError = (response: HttpResponseLike): string | undefined =>
  challengesOf(response).find((c) => c.params.error !== undefined)?.params.error

export const sameScheme = (challenge: Challenge, scheme: string | undefined): boolean =>
  challenge.scheme.toLowerCase() === scheme?.toLowerCase()

function hasNoStore (response: HttpResponseLike): boolean {
  const value = header(response, 'cache-control') ?? ''
  return value.split(',').some((directive) => directive.trim().toLowerCase() === 'no-store')
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

function isMetadataUrl (value: string | undefined): boolean {
  if (value === undefined || !URL.canParse(value)) return false
  const url = new URL(value)
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname))
}

const words = (value: string | readonly string[]): string[] =>
  (typeof value === 'string' ? value.split(/\s+/) : [...value]).filter((word) => word !== '')

function sameSet (actual: string | undefined, expected: string | readonly string[]): boolean {
  if (actual === undefined) return false
  const a = new Set(words(actual))
  const b = new Set(words(expected))
  return a.size === b.size && [...a].every((word) => b.has(word))
}

const param = (value: string | undefined): string => (value === undefined ? 'none' : `"${value}"`)
