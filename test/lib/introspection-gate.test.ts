// lib/introspection-gate.ts with an injected clock and a stub endpoint: the
// negative cache's TTL and bound, single flight, and the in-flight limit.
import t from 'tap'
import type { VerifiedToken } from '../../lib/claims.js'
import { isMcpAuthError, reject } from '../../lib/errors.js'
import { createIntrospectionGate } from '../../lib/introspection-gate.js'

const ACTIVE = Object.freeze({}) as VerifiedToken
const ONE: ReadonlySet<string> = new Set(['https://issuer.test'])

function endpoint (answer: (token: string) => Promise<VerifiedToken>): { calls: string[], introspect: (token: string) => Promise<VerifiedToken> } {
  const calls: string[] = []
  return { calls, introspect: async (token) => { calls.push(token); return answer(token) } }
}

t.test('an inactive answer is remembered for negativeCacheTtl, on the monotonic clock', async (t) => {
  let now = 1_000_000
  const stub = endpoint(async () => { throw reject.invalidToken('token.inactive') })
  const gate = createIntrospectionGate(stub.introspect, { negativeCacheTtl: 10, negativeCacheMaxEntries: 100, maxConcurrent: 4, nowMs: () => now })
  await t.rejects(gate('junk', ONE), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.inactive' })
  now += 9_999
  await t.rejects(gate('junk', ONE), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.inactive' })
  t.equal(stub.calls.length, 1, 'within the TTL: no call')
  now += 1
  await t.rejects(gate('junk', ONE), { code: 'FST_MCP_AUTH_INVALID_TOKEN', reason: 'token.inactive' })
  t.equal(stub.calls.length, 2, 'at the TTL: asked again')
})

t.test('the negative cache is bounded (LRU) and never remembers an outage', async (t) => {
  const stub = endpoint(async (token) => {
    if (token.startsWith('down')) throw reject.unavailable('introspection.failed')
    throw reject.invalidToken('token.inactive')
  })
  const gate = createIntrospectionGate(stub.introspect, { negativeCacheTtl: 60, negativeCacheMaxEntries: 2, maxConcurrent: 4, nowMs: () => 0 })
  for (const token of ['a', 'b', 'c', 'a']) await gate(token, ONE).catch(() => undefined)
  t.same(stub.calls, ['a', 'b', 'c', 'a'], 'a was evicted by c')
  await gate('down-1', ONE).catch(() => undefined)
  await gate('down-1', ONE).catch(() => undefined)
  t.equal(stub.calls.filter((c) => c === 'down-1').length, 2, '503s are not remembered')
  const other = createIntrospectionGate(async () => { throw new Error('bug') }, { negativeCacheTtl: 60, negativeCacheMaxEntries: 2, maxConcurrent: 4, nowMs: () => 0 })
  await t.rejects(other('x', ONE), new Error('bug'))
})

t.test('single flight per token; maxConcurrent calls at most, the next one refused at once', async (t) => {
  const releases: Array<() => void> = []
  const stub = endpoint(() => new Promise((resolve) => releases.push(() => resolve(ACTIVE))))
  const gate = createIntrospectionGate(stub.introspect, { negativeCacheTtl: 0, negativeCacheMaxEntries: 1, maxConcurrent: 2, nowMs: () => 0 })
  const shared = [gate('a', ONE), gate('a', ONE), gate('a', ONE)]
  const second = gate('b', ONE)
  let refused: unknown
  try {
    await gate('c', ONE)
  } catch (err) {
    refused = err
  }
  t.ok(isMcpAuthError(refused) && refused.statusCode === 503 && refused.reason === 'introspection.busy', 'the third distinct token: 503')
  t.same(stub.calls, ['a', 'b'])
  for (const release of releases) release()
  t.same(await Promise.all(shared), [ACTIVE, ACTIVE, ACTIVE])
  t.equal(await second, ACTIVE)
  const later = gate('c', ONE)
  t.same(stub.calls, ['a', 'b', 'c'], 'room again once the calls ended')
  releases.at(-1)?.()
  t.equal(await later, ACTIVE)
})
