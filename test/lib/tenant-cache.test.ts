// lib/tenant-cache.ts with an injected clock and a stub resolver: the two TTLs,
// the bound, coalescing, failures never remembered, and invalidation (also of
// a lookup in flight).
import t from 'tap'
import { reject } from '../../lib/errors.js'
import { createTenantCache } from '../../lib/tenant-cache.js'

interface Stub {
  calls: string[]
  load: (key: string) => Promise<string | undefined>
}

function stub (answer: (key: string) => Promise<string | undefined>): Stub {
  const calls: string[] = []
  return { calls, load: async (key) => { calls.push(key); return answer(key) } }
}

const NO_PARAMS = Object.freeze({})

t.test('a known tenant is held cacheTtl, an unknown one negativeCacheTtl, on the monotonic clock', async (t) => {
  let now = 1_000_000
  const resolver = stub(async (key) => key === '/t/acme/mcp' ? 'acme' : undefined)
  const cache = createTenantCache({ load: resolver.load, cacheTtlMs: 60_000, negativeCacheTtlMs: 10_000, maxEntries: 10, nowMs: () => now })
  t.equal(await cache.lookup('/t/acme/mcp', NO_PARAMS, undefined), 'acme')
  t.equal(await cache.lookup('/t/nobody/mcp', NO_PARAMS, undefined), undefined)
  now += 9_999
  t.equal(await cache.lookup('/t/acme/mcp', NO_PARAMS, undefined), 'acme')
  t.equal(await cache.lookup('/t/nobody/mcp', NO_PARAMS, undefined), undefined)
  t.equal(resolver.calls.length, 2, 'within both TTLs: no call')
  now += 1
  await cache.lookup('/t/nobody/mcp', NO_PARAMS, undefined)
  t.same(resolver.calls, ['/t/acme/mcp', '/t/nobody/mcp', '/t/nobody/mcp'], 'the unknown tenant is asked again at negativeCacheTtl')
  now += 50_000
  t.equal(cache.peek('/t/acme/mcp'), undefined, 'past cacheTtl, peek holds nothing')
  t.equal(await cache.lookup('/t/acme/mcp', NO_PARAMS, undefined), 'acme')
  t.equal(resolver.calls.length, 4, 'the known tenant is asked again at cacheTtl')
  t.equal(cache.peek('/t/acme/mcp'), 'acme')
})

t.test('the cache holds maxEntries tenants; the least recently used go first', async (t) => {
  const resolver = stub(async (key) => key)
  const cache = createTenantCache({ load: resolver.load, cacheTtlMs: 60_000, negativeCacheTtlMs: 10_000, maxEntries: 2, nowMs: () => 0 })
  for (const key of ['a', 'b', 'a', 'c', 'a', 'b']) await cache.lookup(key, NO_PARAMS, undefined)
  t.same(resolver.calls, ['a', 'b', 'c', 'b'], 'b was evicted by c, a stayed (recently used)')
})

t.test('concurrent lookups of one tenant share one resolver call; a failure is shared, then forgotten', async (t) => {
  const pending: Array<{ resolve: (value: string | undefined) => void, reject: (err: unknown) => void }> = []
  const resolver = stub(() => new Promise((resolve, reject) => pending.push({ resolve, reject })))
  const cache = createTenantCache({ load: resolver.load, cacheTtlMs: 60_000, negativeCacheTtlMs: 10_000, maxEntries: 10, nowMs: () => 0 })
  const waiting = [cache.lookup('a', NO_PARAMS, 1), cache.lookup('a', NO_PARAMS, 2), cache.lookup('b', NO_PARAMS, 3)]
  await Promise.resolve()
  t.same(resolver.calls, ['a', 'b'], 'one call per tenant')
  pending[0]?.resolve('A')
  pending[1]?.reject(reject.unavailable('resolver.failed'))
  const settled = await Promise.allSettled(waiting)
  t.same(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected'])
  t.equal((settled[0] as PromiseFulfilledResult<string>).value, 'A')
  const again = cache.lookup('b', NO_PARAMS, 4)
  await Promise.resolve()
  t.same(resolver.calls, ['a', 'b', 'b'], 'the failure was not remembered')
  pending[2]?.resolve('B')
  t.equal(await again, 'B')
})

t.test('invalidate forgets a tenant, known or unknown, and a lookup in flight is not remembered', async (t) => {
  const answers = new Map<string, string | undefined>([['a', 'A1']])
  let release: (() => void) | undefined
  const resolver = stub(async (key) => {
    if (key === 'slow' && release === undefined) await new Promise<void>((resolve) => { release = resolve })
    return answers.get(key)
  })
  const cache = createTenantCache({ load: resolver.load, cacheTtlMs: 60_000, negativeCacheTtlMs: 10_000, maxEntries: 10, nowMs: () => 0 })
  t.equal(await cache.lookup('a', NO_PARAMS, undefined), 'A1')
  t.equal(await cache.lookup('new', NO_PARAMS, undefined), undefined)
  answers.set('a', 'A2')
  answers.set('new', 'NEW')
  cache.invalidate('a')
  cache.invalidate('new')
  t.equal(await cache.lookup('a', NO_PARAMS, undefined), 'A2', 'the changed descriptor is asked for at once')
  t.equal(await cache.lookup('new', NO_PARAMS, undefined), 'NEW', 'an on-boarded tenant is known at once')

  const inflight = cache.lookup('slow', NO_PARAMS, undefined)
  await Promise.resolve()
  cache.invalidate('slow')
  release?.()
  t.equal(await inflight, undefined, 'the waiting request gets the answer it asked for')
  answers.set('slow', 'SLOW')
  t.equal(await cache.lookup('slow', NO_PARAMS, undefined), 'SLOW', 'but the answer from before the invalidation was not kept')
  t.equal(resolver.calls.filter((c) => c === 'slow').length, 2)
})
