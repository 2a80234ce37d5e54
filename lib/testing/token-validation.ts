// assertTokenValidationEnforced: the access-token checks of RFC 9068 §4 and
// the audience rule of RFC 8707 / MCP, one bad token at a time, after a good
// token shows the route accepts the issuer's tokens.
import { createHmac } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose'
import { expectRejected } from './challenge.js'
import type { OAuthScheme } from './challenge.js'
import { createDpopKey } from './dpop.js'
import type { DpopKey } from './dpop.js'
import { Exchange, injectTransport } from './http.js'
import type { Step } from './http.js'
import type { HttpResponseLike, Injectable, InjectRequest } from './exchange.js'
import type { MintOptions } from './issuer.js'
import { callSite, fromCallSite } from './report.js'
import { discoverResource, expectSuccess, mint, requestTo, resolveDpopTarget, sendWithProof, targetOf } from './steps.js'
import type { DpopAssertionOptions, DpopTarget } from './steps.js'

export interface TokenValidationOptions extends DpopAssertionOptions {
  /**
   * How tokens are presented: `'Bearer'` (default), or `'DPoP'` for an app that
   * requires DPoP, where each token is bound to a fresh key and sent with a
   * valid proof.
   */
  scheme?: OAuthScheme
  /**
   * More audiences this route must refuse, besides the built-in ones: other
   * APIs your authorization server issues tokens for, other resources the app
   * serves.
   */
  otherAudiences?: readonly string[]
  /** The `typ` values the app accepts, as its mcpAuth `tokenTypes` (default `at+jwt`); the helper sends a `typ` outside them. */
  tokenTypes?: readonly string[]
}

/** Makes the tokens of one case, bound to the case's key under DPoP. */
interface Minter {
  mint (claims?: Record<string, unknown>, options?: Omit<MintOptions, 'bindTo'>): Promise<string>
  /** The valid token, re-encoded with another header and signature. */
  reencode (alg: 'none' | 'HS256'): Promise<string>
}

interface TokenCase {
  /** What is sent, as a noun phrase. */
  readonly what: string
  /** What the server must do instead of accepting it. */
  readonly fix: string
  readonly token: (minter: Minter) => Promise<string>
}

const AUDIENCE_FIX = 'accept only a token whose aud names this resource (RFC 8707, MCP authorization: audience validation); compare it exactly, never by prefix or origin, and list in `audiences` only aliases of this resource'

/**
 * After a 2xx control request (a valid token), a token for another audience
 * or another resource, with a forged signature, expired, from another
 * issuer, with a wrong typ, unsigned (alg none) or MACed with the issuer's
 * public key each get 401 invalid_token.
 */
export async function assertTokenValidationEnforced (app: Injectable, options: TokenValidationOptions): Promise<void> {
  return fromCallSite(callSite(assertTokenValidationEnforced), tokenValidationEnforced(app, options))
}

async function tokenValidationEnforced (app: Injectable, options: TokenValidationOptions): Promise<void> {
  const helper = 'assertTokenValidationEnforced'
  const scheme = options.scheme ?? 'Bearer'
  if (scheme !== 'Bearer' && scheme !== 'DPoP') throw new TypeError(`${helper}: scheme must be 'Bearer' or 'DPoP'; got ${String(scheme)}`)
  const exchange = new Exchange(helper, injectTransport(app), options.timeout)
  const target: DpopTarget = scheme === 'DPoP'
    ? await resolveDpopTarget(exchange, options)
    : { ...targetOf(options, options.url), aud: options.resource ?? options.issuer.audience ?? await discoverResource(exchange, targetOf(options, options.url)), htu: '' }
  const present = presenter(exchange, target, scheme)

  const controlStep = { step: `control: a valid token under ${scheme} must be accepted` }
  const controlKey = await createDpopKey()
  const control = await present(controlStep, controlKey, await minter(options, target.aud, scheme, controlKey).mint())
  expectSuccess(exchange, controlStep, control.request, control.response, { ...target, scheme }, options,
    scheme === 'Bearer' && control.response.statusCode === 401 ? 'if the app requires DPoP (dpop.required), pass scheme: \'DPoP\'' : undefined)

  const template = decodeJwt(await minter(options, target.aud, scheme, controlKey).mint())
  for (const check of cases(options, target.aud, template)) {
    const step = { step: `${check.what} must be rejected with 401 invalid_token` }
    const key = await createDpopKey()
    const sent = await present(step, key, await check.token(minter(options, target.aud, scheme, key)))
    expectRejected(exchange.context(step, sent.request), sent.response, { error: 'invalid_token', scheme, fix: `the server accepted ${check.what}: ${check.fix}` })
  }
}

function cases (options: TokenValidationOptions, aud: string, template: Record<string, unknown>): TokenCase[] {
  const now = Math.floor(Date.now() / 1000)
  const typ = ['JWT', 'dpop+jwt'].find((candidate) => !(options.tokenTypes ?? ['at+jwt']).some((accepted) => sameType(accepted, candidate))) as string
  return [
    ...otherAudiences(options, aud, template).map((other): TokenCase => ({
      what: `a token for another audience (aud ${other})`,
      fix: AUDIENCE_FIX,
      token: (m) => m.mint({ aud: other }),
    })),
    ...otherResources(aud).map((other): TokenCase => ({
      what: `a token for another resource (aud ${other})`,
      fix: AUDIENCE_FIX,
      token: (m) => m.mint({ aud: other }),
    })),
    {
      what: 'a token signed by another key under the issuer\'s kid (a forged signature)',
      fix: 'verify the signature with the issuer\'s published keys (RFC 9068 §4)',
      token: async (m) => m.mint({}, { signWith: (await generateKeyPair(options.issuer.algorithm)).privateKey }),
    },
    {
      what: 'a token that expired a day ago',
      fix: 'check exp, with a small clock tolerance at most (RFC 9068 §4)',
      token: (m) => m.mint({ iat: now - 86_700, exp: now - 86_400 }),
    },
    {
      what: 'a token from another issuer (iss https://attacker.example), signed with a trusted key',
      fix: 'compare iss exactly with a configured authorization server: a trusted key does not name the issuer (RFC 9068 §4)',
      token: (m) => m.mint({ iss: 'https://attacker.example' }),
    },
    {
      what: `a token with typ ${typ}`,
      fix: 'require typ at+jwt (RFC 9068 §4), so an ID token or another JWT of the same issuer is not taken for an access token; pass tokenTypes if your app accepts more',
      token: (m) => m.mint({}, { header: { typ } }),
    },
    {
      what: 'an unsigned token (alg none)',
      fix: 'refuse alg none (RFC 9068 §4, RFC 8725 §3.1)',
      token: (m) => m.reencode('none'),
    },
    {
      what: 'a token MACed with HS256 using the issuer\'s public key as the secret',
      fix: 'accept only the issuer\'s asymmetric algorithms, and take the algorithm from the key, not from the token (RFC 8725 §3.1)',
      token: (m) => m.reencode('HS256'),
    },
  ]
}

/** The authorization server itself, its userinfo, Keycloak's default `account`, the client (an ID token's aud), and the user's list. */
function otherAudiences (options: TokenValidationOptions, aud: string, template: Record<string, unknown>): string[] {
  const issuer = options.issuer.issuer
  const client = template.client_id ?? template.azp
  return unique([issuer, `${issuer.replace(/\/$/, '')}/userinfo`, 'account', ...(typeof client === 'string' ? [client] : []), ...options.otherAudiences ?? []], aud)
}

/** Audiences a prefix or origin comparison would take for this resource. */
function otherResources (aud: string): string[] {
  const others = [`${aud}-admin`]
  if (URL.canParse(aud)) {
    const url = new URL(aud)
    if (url.protocol === 'https:' || url.protocol === 'http:') {
      if (url.pathname !== '/') others.push(url.origin)
      others.push(`${url.origin}/another-resource`)
    }
  }
  return unique(others, aud)
}

/** Each value once, and never the resource itself (compared as URLs where they are URLs). */
function unique (values: readonly string[], aud: string): string[] {
  const canonical = (value: string): string => URL.canParse(value) ? new URL(value).href : value
  const seen = new Set([canonical(aud)])
  const kept: string[] = []
  for (const value of values) {
    if (seen.has(canonical(value))) continue
    seen.add(canonical(value))
    kept.push(value)
  }
  return kept
}

// RFC 7515 §4.1.9: case-insensitive, "application/" optional.
const sameType = (a: string, b: string): boolean =>
  a.toLowerCase().replace(/^application\//, '') === b.toLowerCase().replace(/^application\//, '')

function minter (options: TokenValidationOptions, aud: string, scheme: OAuthScheme, key: DpopKey): Minter {
  const bindTo = scheme === 'DPoP' ? { jkt: key.jkt } : undefined
  const mintOne = (claims: Record<string, unknown> = {}, extra: Omit<MintOptions, 'bindTo'> = {}): Promise<string> => mint(options, aud, bindTo, { ...extra, claims })
  return {
    mint: mintOne,
    async reencode (alg) {
      const valid = await mintOne()
      const input = `${encode({ ...decodeProtectedHeader(valid), alg })}.${valid.split('.')[1] as string}`
      if (alg === 'none') return `${input}.`
      const secret = JSON.stringify(options.issuer.jwks.keys[0])
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
    },
  }
}

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Sends a token under the scheme: Bearer alone, or DPoP with a valid proof by the key it is bound to. */
function presenter (exchange: Exchange, target: DpopTarget, scheme: OAuthScheme): (step: Step, key: DpopKey, token: string) => Promise<{ request: InjectRequest, response: HttpResponseLike }> {
  let nonce: string | undefined
  return async (step, key, token) => {
    if (scheme === 'Bearer') {
      const request = requestTo(target, { authorization: `Bearer ${token}` })
      return { request, response: await exchange.send(step, request) }
    }
    const sent = await sendWithProof(exchange, step, target, { key, token, scheme, nonce })
    nonce = sent.nonce
    return sent
  }
}
