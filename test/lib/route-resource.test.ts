// lib/route-resource.ts: the resource a parametric route's request is checked
// against is found by one lookup per path segment; property-based, it always
// agrees with the definition (the longest resource the path lies within on a
// "/" boundary), for any set of resources and any path. Then the binding of
// route patterns: what is fixed at registration, the "*" route, bare origins,
// the nearest resource's challenge and the filler's defaults.
import fc from 'fast-check'
import t from 'tap'
import { createFiller, createRouteResources, isPathWithin, parsePattern } from '../../lib/route-resource.js'
import type { ParsedResource } from '../../lib/resource.js'

const resource = (path: string): { parsed: ParsedResource } => ({ parsed: { uri: `https://mcp.example.com${path}`, origin: 'https://mcp.example.com', path, query: '' } })

// Few distinct segments, so paths and resources share prefixes often; "" makes "//" and trailing "/".
const segment = fc.constantFrom('', 'a', 'b', 'mcp', 't', 'a-b')
const path = fc.array(segment, { maxLength: 5 }).map((segments) => segments.length === 0 ? '' : '/' + segments.join('/'))

t.test('the longest resource a filled path lies within, by lookups, equals the linear definition', async (t) => {
  fc.assert(fc.property(fc.uniqueArray(path, { minLength: 2, maxLength: 8 }), fc.array(segment, { maxLength: 6 }), (paths, requested) => {
    const resources = paths.map(resource)
    const expected = [...resources].sort((x, y) => y.parsed.path.length - x.parsed.path.length)
      .find((r) => isPathWithin('/' + requested.join('/'), r.parsed.path))
    // A wildcard route: its parameter fills the whole path, "/" included.
    const binding = createRouteResources(resources).forRoute('/*')
    const selected = binding.fixed ?? binding.select?.({ '*': requested.join('/') })
    return selected === expected
  }), { numRuns: 2000 })
  t.pass('2000 random resource sets and paths agree')
})

t.test('10,000 resources: a parametric route selects its tenant\'s resource, and none outside them', async (t) => {
  const resources = Array.from({ length: 10_000 }, (_, i) => resource(`/t/tenant-${i}/mcp`))
  const binding = createRouteResources(resources).forRoute('/t/:tenant/mcp/*')
  t.equal(binding.select?.({ tenant: 'tenant-9999', '*': 'sse' }), resources[9999])
  t.equal(binding.select?.({ tenant: 'tenant-0', '*': '' }), resources[0])
  t.equal(binding.select?.({ tenant: 'tenant-10000', '*': '' }), undefined)
  t.equal(binding.select?.({ tenant: 'TENANT-1', '*': '' }), undefined)
})

// The resources the binding tests below share.
const bare = resource('')
const mcp = resource('/mcp')
const admin = resource('/mcp/admin')

t.test('only the whole segments before the first parameter are fixed: /mcp/admin1 lies under /mcp, not /mcp/admin', async (t) => {
  const binding = createRouteResources([mcp, admin]).forRoute('/mcp/admin:n')
  t.equal(binding.fixed, undefined)
  t.equal(binding.select?.({ n: '1' }), mcp)
  t.equal(binding.select?.({ n: '' }), admin)
})

t.test('a route no parameter can move to another resource is bound once, at registration', async (t) => {
  const v2 = resource('/v2/')
  const routes = createRouteResources([mcp, admin, v2])
  t.equal(routes.forRoute('/mcp/admin/:tool').fixed, admin)
  t.equal(routes.forRoute('/v2/:tool').fixed, v2, 'a resource ending in "/" holds every value of the segment after it')
})

t.test('the root wildcard route "*" selects by its parameter, as "/*" does', async (t) => {
  const binding = createRouteResources([mcp, admin]).forRoute('*')
  t.equal(binding.outside, false)
  t.equal(binding.fixed, undefined)
  // find-my-way gives "*" the whole path, its leading "/" included.
  t.equal(binding.select?.({ '*': '/mcp/admin/x' }), admin)
  t.equal(binding.select?.({ '*': '/mcp/x' }), mcp)
  t.equal(binding.select?.({ '*': '/other' }), undefined)
  t.equal(binding.nearest, mcp, 'no static prefix: the first resource')
})

t.test('a bare origin holds every path, even an empty pattern and a path without "/"', async (t) => {
  const routes = createRouteResources([bare, mcp])
  // Fastify runs onRoute with an empty path before its router refuses it.
  t.equal(routes.forRoute('').fixed, bare)
  t.equal(createRouteResources([mcp, admin]).forRoute('').outside, true, 'without a bare origin it names none')
  t.equal(routes.forRoute('*').select?.({ '*': 'mcp' }), bare)
})

t.test('a route no URI can spell (not well-formed UTF-16) lies in no resource but a bare origin, static or not', async (t) => {
  t.equal(createRouteResources([mcp, admin]).forRoute('/mcp/\uD800').outside, true)
  t.equal(createRouteResources([bare, mcp]).forRoute('/mcp/\uD800').fixed, bare)
  // Whatever fills the parameter: x = "mcp" must not put it under /mcp.
  t.equal(createRouteResources([mcp, admin]).forRoute('/:x/\uD800').outside, true)
  t.equal(createRouteResources([bare, mcp]).forRoute('/:x/\uD800').fixed, bare)
  t.equal(createRouteResources([bare, mcp]).forRoute('/\uD800/:x').fixed, bare)
})

t.test('nearest: a request that names no resource is challenged with the resource sharing the longest static prefix', async (t) => {
  const acme = resource('/tenants/acme/mcp')
  const api = resource('/api/mcp')
  t.equal(createRouteResources([acme, api]).forRoute('/api/:version/tools').nearest, api, 'not the first, longer one')
  t.equal(createRouteResources([bare, mcp]).forRoute('/:x').nearest, mcp, 'a shared "/" beats a bare origin, which shares nothing')
})

t.test('createFiller: a missing or non-object parameter set fills nothing', async (t) => {
  t.equal(createFiller(parsePattern('/files/*'))({}), '/files/')
  t.equal(createFiller(parsePattern('/t/:x'))(null), '/t/')
  t.equal(createFiller(parsePattern('/t/:x'))(undefined), '/t/')
})

t.test('createFiller: static text no URI can spell (a lone surrogate) fills no path, whatever the parameters', async (t) => {
  // Dropping the text would put '/:x/\uD800' filled with x = "mcp" at "/mcp", under another resource.
  t.equal(createFiller(parsePattern('/:x/\uD800'))({ x: 'mcp' }), undefined)
  t.equal(createFiller(parsePattern('/\uD800/:x'))({ x: 'a' }), undefined)
  t.equal(createFiller(parsePattern('/:x/\uD83D\uDE00'))({ x: 'a' }), '/a/%F0%9F%98%80', 'a surrogate pair is spelled')
})
