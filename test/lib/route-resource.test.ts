// lib/route-resource.ts: the resource a parametric route's request is checked
// against is found by one lookup per path segment; property-based, it always
// agrees with the definition (the longest resource the path lies within on a
// "/" boundary), for any set of resources and any path.
import fc from 'fast-check'
import t from 'tap'
import { createRouteResources, isPathWithin } from '../../lib/route-resource.js'
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
