// lib/claims.ts: the claim checks every verification path shares (RFC 7519
// §4.1.4-6 times, RFC 9068 §2.2 claim types, RFC 7800 / RFC 9449 §6 cnf) and
// the immutable VerifiedToken, with a fixed clock.
import t from 'tap'
import { checkTimes, deepFreeze, readScopes, toVerifiedToken } from '../../lib/claims.js'

const NOW = 1_800_000_000
const invalid = (reason: string): { code: string, reason: string } => ({ code: 'FST_MCP_AUTH_INVALID_TOKEN', reason })
const AUD = 'https://mcp.example.com/mcp'

function times (claims: Record<string, unknown>, options: { clockTolerance?: number, requireExp?: boolean } = {}): void {
  checkTimes(claims, { now: NOW, clockTolerance: options.clockTolerance ?? 5, requireExp: options.requireExp ?? true })
}

t.test('RFC 7519 §4.1.4 / RFC 9068 §2.2: exp required for JWTs, optional otherwise, always a finite number', async (t) => {
  t.doesNotThrow(() => times({ exp: NOW + 1 }))
  t.throws(() => times({}), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.exp_missing' })
  t.doesNotThrow(() => times({}, { requireExp: false }), 'introspection / custom verifiers may omit exp')
  for (const exp of ['1800000300', null, true, [NOW + 1], { v: 1 }, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    t.throws(() => times({ exp }, { requireExp: false }), invalid('token.exp_missing'), String(exp))
  }
})

t.test('RFC 7519 §4.1.4: exp boundaries with and without tolerance', async (t) => {
  t.doesNotThrow(() => times({ exp: NOW - 4 }))
  t.throws(() => times({ exp: NOW - 5 }), invalid('token.expired'))
  t.throws(() => times({ exp: NOW }, { clockTolerance: 0 }), invalid('token.expired'), 'the current time must be before exp')
  t.doesNotThrow(() => times({ exp: NOW + 0.001 }, { clockTolerance: 0 }))
  t.throws(() => times({ exp: 0 }), invalid('token.expired'))
  t.throws(() => times({ exp: -1 }), invalid('token.expired'))
})

t.test('RFC 7519 §4.1.5: nbf must not lie beyond now + tolerance; must be a number when present', async (t) => {
  t.doesNotThrow(() => times({ exp: NOW + 60, nbf: NOW + 5 }))
  t.doesNotThrow(() => times({ exp: NOW + 60, nbf: 0 }))
  t.throws(() => times({ exp: NOW + 60, nbf: NOW + 6 }), invalid('token.nbf'))
  t.throws(() => times({ exp: NOW + 60, nbf: NOW + 1 }, { clockTolerance: 0 }), invalid('token.nbf'))
  for (const nbf of [String(NOW), null, Number.NaN, Number.NEGATIVE_INFINITY]) {
    t.throws(() => times({ exp: NOW + 60, nbf }), invalid('token.nbf'), String(nbf))
  }
})

t.test('RFC 7519 §4.1.6 (pinned): iat beyond now + tolerance is rejected; must be a number when present', async (t) => {
  t.doesNotThrow(() => times({ exp: NOW + 60, iat: NOW + 5 }))
  t.doesNotThrow(() => times({ exp: NOW + 60, iat: NOW - 86400 * 365 }), 'an old iat is fine (exp decides)')
  t.throws(() => times({ exp: NOW + 60, iat: NOW + 6 }), invalid('token.iat'))
  for (const iat of [String(NOW), false, Number.POSITIVE_INFINITY]) {
    t.throws(() => times({ exp: NOW + 60, iat }), invalid('token.iat'), String(iat))
  }
})

t.test('checkTimes reports exp before nbf before iat', async (t) => {
  t.throws(() => times({ exp: NOW - 60, nbf: NOW + 60, iat: NOW + 60 }), invalid('token.expired'))
  t.throws(() => times({ exp: NOW + 60, nbf: NOW + 60, iat: NOW + 60 }), invalid('token.nbf'))
})

t.test('toVerifiedToken: the VerifiedToken fields', async (t) => {
  const claims = { iss: 'https://as', sub: 's', aud: ['HTTPS://MCP.EXAMPLE.COM/mcp', 'api://x'], exp: NOW + 1, client_id: 'c', azp: 'a', scope: 'a b', scp: ['c'], extra: { deep: [1] } }
  const v = toVerifiedToken(claims, 'https://as')
  t.equal(v.issuer, 'https://as')
  t.same(v.audiences, [AUD, 'api://x'], 'audiences in comparison form')
  t.equal(v.expiresAt, NOW + 1)
  t.same(v.scopes, ['a', 'b', 'c'])
  t.equal(v.subject, 's')
  t.equal(v.clientId, 'c')
  t.same(v.binding, { jkt: undefined, x5t: undefined })
  t.equal(v.claims, claims, 'the claims object itself, frozen in place')
  t.ok(Object.isFrozen(v) && Object.isFrozen(v.claims) && Object.isFrozen(v.audiences) && Object.isFrozen(v.scopes) && Object.isFrozen(v.binding))
  t.ok(Object.isFrozen((v.claims.extra as { deep: number[] }).deep))
  t.equal(toVerifiedToken({ azp: 'a' }, undefined).clientId, 'a', 'azp when client_id is absent')
  const bare = toVerifiedToken({}, undefined)
  t.equal(bare.clientId, undefined)
  t.equal(bare.subject, undefined)
  t.equal(bare.expiresAt, undefined)
  t.equal(bare.issuer, undefined)
  t.same(bare.audiences, [])
  t.same(bare.scopes, [])
})

t.test('RFC 9068 §2.2: string claims of another type → token.claims', async (t) => {
  for (const name of ['sub', 'jti', 'client_id', 'azp', 'scope']) {
    for (const value of [1, null, ['x'], { v: 'x' }, true]) {
      t.throws(() => toVerifiedToken({ [name]: value }, undefined), invalid('token.claims'), `${name}: ${JSON.stringify(value)}`)
    }
  }
  for (const aud of [1, null, [AUD, 1], [[AUD]], { aud: AUD }]) {
    t.throws(() => toVerifiedToken({ aud }, undefined), invalid('token.claims'), `aud: ${JSON.stringify(aud)}`)
  }
  for (const scp of [1, null, [1], { a: 'b' }]) {
    t.throws(() => toVerifiedToken({ scp }, undefined), invalid('token.claims'), `scp: ${JSON.stringify(scp)}`)
  }
})

t.test('RFC 8707 §2: an aud value with a fragment never matches (dropped, not malformed)', async (t) => {
  t.same(toVerifiedToken({ aud: AUD + '#x' }, undefined).audiences, [])
  t.same(toVerifiedToken({ aud: [AUD + '#x', AUD] }, undefined).audiences, [AUD])
  t.same(toVerifiedToken({ aud: '' }, undefined).audiences, [''])
})

t.test('RFC 9449 §6 / RFC 8705 §3: cnf confirmation methods', async (t) => {
  t.same(toVerifiedToken({ cnf: { jkt: 'abc' } }, undefined).binding, { jkt: 'abc', x5t: undefined })
  t.same(toVerifiedToken({ cnf: { 'x5t#S256': 'def' } }, undefined).binding, { jkt: undefined, x5t: 'def' })
  t.same(toVerifiedToken({ cnf: { jkt: 'abc', 'x5t#S256': 'def' } }, undefined).binding, { jkt: 'abc', x5t: 'def' }, 'both kept; the authenticator refuses the conflict')
  t.same(toVerifiedToken({ cnf: { jkt: 'abc', kid: 'other' } }, undefined).binding, { jkt: 'abc', x5t: undefined }, 'extra members beside a known method')
  t.same(toVerifiedToken({ cnf: { 'x5t#S256': 'def', kid: 'other' } }, undefined).binding, { jkt: undefined, x5t: 'def' }, 'beside x5t#S256 too')
  t.ok(Object.isFrozen(toVerifiedToken({ cnf: { jkt: 'abc' } }, undefined).binding))
  t.same(toVerifiedToken({}, undefined).binding, { jkt: undefined, x5t: undefined })
  const malformed: unknown[] = [null, 'jkt', ['jkt'], 5, { jkt: '' }, { jkt: 5 }, { 'x5t#S256': '' }, { 'x5t#S256': ['x'] }, { kid: 'k' }, { jwk: { kty: 'EC' } }, { 'x5t#S1': 'x' }]
  for (const cnf of malformed) {
    t.throws(() => toVerifiedToken({ cnf }, undefined), invalid('binding.cnf'), `a confirmation we cannot check never becomes a bearer token: ${JSON.stringify(cnf)}`)
  }
  t.same(toVerifiedToken({ cnf: {} }, undefined).binding, { jkt: undefined, x5t: undefined }, 'an empty cnf binds nothing')
})

t.test('RFC 9068 §2.2.3 / RFC 6749 §3.3: readScopes merges scope and scp, drops empties and duplicates', async (t) => {
  t.same(readScopes(undefined, undefined), [])
  t.same(readScopes('', undefined), [])
  t.same(readScopes('a  b   c ', undefined), ['a', 'b', 'c'])
  t.same(readScopes('a b a', undefined), ['a', 'b'])
  t.same(readScopes(undefined, ['x', 'y', '', 'x']), ['x', 'y'])
  t.same(readScopes(undefined, 'x y'), ['x', 'y'])
  t.same(readScopes(undefined, ' x  y '), ['x', 'y'], 'empties dropped from an scp string too')
  t.same(readScopes(undefined, ''), [])
  t.same(readScopes('a b', ['b', 'c']), ['a', 'b', 'c'])
  t.same(readScopes(' a  b ', ['c']), ['a', 'b', 'c'], 'empties dropped from scope when scp is there too')
  t.same(readScopes('A a', undefined), ['A', 'a'], 'case-sensitive')
  t.same(readScopes('a\tb', undefined), ['a\tb'], 'only SP delimits')
  t.equal(readScopes(['a'], undefined), undefined)
  t.equal(readScopes(1, undefined), undefined)
  t.equal(readScopes(null, undefined), undefined)
  t.equal(readScopes('a', [1]), undefined)
  t.equal(readScopes('a', null), undefined)
  t.equal(readScopes('a', { a: 1 }), undefined)
})

t.test('deepFreeze: freezes nested objects and arrays in place', async (t) => {
  const value = { a: { b: [1, { c: 'd' }] }, e: null, f: 'x' }
  t.equal(deepFreeze(value), value)
  t.ok(Object.isFrozen(value) && Object.isFrozen(value.a) && Object.isFrozen(value.a.b) && Object.isFrozen(value.a.b[1]))
  t.equal(deepFreeze(5), 5)
  t.equal(deepFreeze(null), null)
  t.equal(deepFreeze('s'), 's')
})

t.test('deepFreeze: 10000 levels of nesting do not overflow the stack', async (t) => {
  let deep: Record<string, unknown> = {}
  const root = deep
  for (let i = 0; i < 10_000; i++) {
    const next: Record<string, unknown> = {}
    deep.n = next
    deep = next
  }
  const arrays: unknown[] = []
  let cursor = arrays
  for (let i = 0; i < 10_000; i++) {
    const next: unknown[] = []
    cursor.push(next)
    cursor = next
  }
  t.doesNotThrow(() => deepFreeze(root))
  t.doesNotThrow(() => deepFreeze(arrays))
  t.ok(Object.isFrozen(deep), 'the innermost object is frozen')
  t.ok(Object.isFrozen(cursor))
  // The same through JSON.parse, the shape a token payload really has.
  const parsed = JSON.parse('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)) as Record<string, unknown>
  t.doesNotThrow(() => toVerifiedToken(parsed, undefined))
})

t.test('deepFreeze: terminates on cycles and on already-frozen subtrees', async (t) => {
  const a: Record<string, unknown> = {}
  const b: Record<string, unknown> = { a }
  a.b = b
  t.doesNotThrow(() => deepFreeze(a))
  t.ok(Object.isFrozen(a) && Object.isFrozen(b))
  const frozen = Object.freeze({ inner: { x: 1 } })
  deepFreeze({ frozen })
  t.notOk(Object.isFrozen(frozen.inner), 'an already-frozen object is taken as frozen all the way down (documented shortcut)')
})
