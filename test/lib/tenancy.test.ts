// lib/tenancy.ts and lib/fetch-limit.ts without a server: the tenant cache at
// its default bound of 100,000 tenants (a fixed clock, no timers), the
// challenge of a path that names no tenant, and the shared limit on issuer
// fetches.
import t from 'tap'
import { isMcpAuthError } from '../../lib/errors.js'
import { createFetchLimit } from '../../lib/fetch-limit.js'
import { silentLogger } from '../../lib/logger.js'
import { resolveTenancy } from '../../lib/tenant-options.js'
import { createTenancy } from '../../lib/tenancy.js'
import { createTokenCache } from '../../lib/verifier.js'
import type { ResolvedResource } from '../../lib/options.js'
import type { TenantParams } from '../../types/index.js'

const ORIGIN = 'https://mcp.example.com'

function tenancyOf (resolve: (params: TenantParams) => unknown, extra: Record<string, unknown> = {}) {
  const options = resolveTenancy({ origin: ORIGIN, path: '/t/:tenant/mcp', resolve, ...extra }, ['https://login.example.com/{tenant}/v2.0'])
  return createTenancy(options, { logger: silentLogger, nowMs: () => 0, tokens: createTokenCache(10) })
}

t.test('eviction at 100,000 tenants (the default maxEntries): the least recently used tenant is resolved again, the rest are held', async (t) => {
  const calls = new Map<string, number>()
  const tenancy = tenancyOf((params) => {
    calls.set(params.tenant as string, (calls.get(params.tenant as string) ?? 0) + 1)
    return {}
  })
  t.equal(tenancy.options.maxEntries, 100_000)
  for (let i = 0; i < 100_000; i++) await tenancy.resourceFor({ tenant: `t${i}` }, undefined)
  t.equal(calls.size, 100_000)
  await tenancy.resourceFor({ tenant: 't0' }, undefined)
  t.equal(calls.get('t0'), 1, 'all 100,000 held: t0 is not asked again')
  await tenancy.resourceFor({ tenant: 't100000' }, undefined)
  await tenancy.resourceFor({ tenant: 't1' }, undefined)
  t.equal(calls.get('t1'), 2, 'the 100,001st tenant evicted the least recently used one (t1; t0 was just used)')
  await tenancy.resourceFor({ tenant: 't0' }, undefined)
  await tenancy.resourceFor({ tenant: 't100000' }, undefined)
  t.equal(calls.get('t0'), 1)
  t.equal(calls.get('t100000'), 1, 'recently used tenants stay')
  const held = tenancy.byUri(`${ORIGIN}/t/t100000/mcp`)
  t.same([...(held as unknown as { issuers: Set<string> }).issuers], ['https://login.example.com/t100000/v2.0'], 'a held tenant\'s resource, its issuer template filled')
  t.equal(tenancy.byUri(`${ORIGIN}/t/t2/mcp`).metadataUrl, `${ORIGIN}/.well-known/oauth-protected-resource/t/t2/mcp`, 'an evicted one: the challenge its path names')
  const resource = await tenancy.resourceFor({ tenant: 'caf-1' }, undefined) as ResolvedResource
  t.same([resource.uri, resource.parsed.path, resource.parsed.query, resource.parsed.origin], [`${ORIGIN}/t/caf-1/mcp`, '/t/caf-1/mcp', '', ORIGIN])
  t.same([resource.metadataUrl, resource.metadataPath, resource.metadataRoute, resource.externalMetadata], [`${ORIGIN}/.well-known/oauth-protected-resource/t/caf-1/mcp`, '/.well-known/oauth-protected-resource/t/caf-1/mcp', '/.well-known/oauth-protected-resource/t/caf-1/mcp', false])
  t.equal(resource.url, resource.url, 'one URL per tenant, made when first asked for')
  t.equal(resource.url.href, `${ORIGIN}/t/caf-1/mcp`)
  t.ok(Object.isFrozen(resource))
  t.same([...resource.audienceKeys], [`${ORIGIN}/t/caf-1/mcp`])
})

t.test('parameters that name no tenant: no resolver call; the challenge is the path\'s own', async (t) => {
  let calls = 0
  const tenancy = tenancyOf(() => { calls++; return {} })
  for (const tenant of ['', '-a', 'a.b', 'a/b', 'x'.repeat(64), 'é', '\uD800', undefined, 42]) {
    t.equal(await tenancy.resourceFor({ tenant }, undefined), undefined, String(tenant))
  }
  t.equal(await tenancy.resourceFor(null, undefined), undefined)
  t.equal(calls, 0)
  t.same(tenancy.unknown({ tenant: 'a b' }), { uri: `${ORIGIN}/t/a%20b/mcp`, metadataUrl: `${ORIGIN}/.well-known/oauth-protected-resource/t/a%20b/mcp`, scopesSupported: undefined })
  t.equal(tenancy.unknown({ tenant: '\uD800' }).uri, `${ORIGIN}/t//mcp`, 'a value no URI can carry')
  const custom = tenancyOf(() => { calls++; return {} }, { tenantPattern: /^[a-z]+\.[a-z]+$/ })
  t.not(await custom.resourceFor({ tenant: 'a.b' }, undefined), undefined, 'tenantPattern is configurable')
  t.equal(await custom.resourceFor({ tenant: 'ab' }, undefined), undefined)
})

t.test('the fetch limit: at most max fetches at once; the rest wait their turn, at most waitMs; aborting frees the queue', async (t) => {
  const limit = createFetchLimit(2, 50)
  const started: number[] = []
  const releases: Array<() => void> = []
  const fetch = (n: number) => () => new Promise<number>((resolve) => { started.push(n); releases.push(() => resolve(n)) })
  const first = limit.run(fetch(1))
  const second = limit.run(fetch(2))
  const third = limit.run(fetch(3))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [1, 2], 'the third waits')
  releases[0]?.()
  t.equal(await first, 1)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [1, 2, 3], 'and starts when a slot frees')
  const late = limit.run(fetch(4))
  let error: unknown
  try {
    await late
  } catch (err) {
    error = err
  }
  t.match(error, { name: 'FetchFailure', failure: 'timeout' }, 'a fetch that waits longer than waitMs fails as a timeout')
  t.notOk(isMcpAuthError(error))
  const controller = new AbortController()
  const aborted = limit.run(fetch(5), controller.signal)
  controller.abort()
  await t.rejects(aborted, { name: 'FetchFailure', message: /closing/ })
  releases[1]?.()
  releases[2]?.()
  t.same(await Promise.all([second, third]), [2, 3])
  t.equal(await limit.run(async () => 6), 6, 'the slots were all given back')
  t.same(started, [1, 2, 3], 'the fetches that gave up never ran')
})
