// One assertion for a rejection on the wire: status, Cache-Control, body,
// the logged reason, and the challenges (order, error placement, parameters,
// RFC 6750 §3 character set). Shared by the plugin test files.
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { parseChallenges, PRM } from './app.js'

export const DPOP_ALGS = 'ES256 ES384 PS256 RS256 EdDSA'
// RFC 6750 §3: error / error_description values.
export const DESCRIPTION_CHARS = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/

export interface Expected {
  status?: 400 | 401 | 403 | 503
  error?: string
  reason: string
  /** resource_metadata every challenge must carry. */
  prm?: string
  /** The scheme whose challenge carries the error (default Bearer; insufficient_scope goes in both). */
  scheme?: 'Bearer' | 'DPoP'
  /** The `scope` challenge parameter, when one is expected. */
  scope?: string
}

export function assertRejected (t: Test, h: { lastReason (): string | undefined }, res: LightMyRequestResponse, expected: Expected): void {
  const status = expected.status ?? 401
  const error = expected.error ?? 'invalid_token'
  t.equal(res.statusCode, status, 'status')
  t.equal(res.headers['cache-control'], 'no-store', 'Cache-Control: no-store')
  const body = res.json() as { error?: unknown, error_description?: unknown }
  t.equal(body.error, error, 'body error')
  t.type(body.error_description, 'string', 'body error_description')
  t.equal(h.lastReason(), expected.reason, 'reason')
  const header = res.headers['www-authenticate']
  if (status === 503) {
    t.equal(header, undefined, '503 has no WWW-Authenticate')
    t.equal(res.headers['retry-after'], '5', 'Retry-After')
    return
  }
  t.type(header, 'string', 'WWW-Authenticate present')
  t.match(String(header), /^[\x20-\x7E]*$/, 'WWW-Authenticate is printable ASCII')
  const challenges = parseChallenges(header)
  t.same(challenges.map((c) => c.scheme), ['Bearer', 'DPoP'], 'Bearer first, then DPoP')
  const scheme = expected.scheme ?? 'Bearer'
  for (const c of challenges) {
    t.equal(c.params.resource_metadata, expected.prm ?? PRM, `${c.scheme} resource_metadata`)
    t.equal(c.params.scope, expected.scope, `${c.scheme} scope`)
    if (c.scheme === 'DPoP') t.equal(c.params.algs, DPOP_ALGS)
    if (c.scheme === scheme || error === 'insufficient_scope') {
      t.equal(c.params.error, error, `${c.scheme} carries the error`)
      t.match(c.params.error_description, DESCRIPTION_CHARS, 'RFC 6750 §3 character set')
    } else {
      t.equal(c.params.error, undefined, `${c.scheme} carries no error`)
    }
  }
}
