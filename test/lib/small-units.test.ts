// Small pure helpers the larger suites reach only partly.
import t from 'tap'
import { describeError, silentLogger } from '../../lib/logger.js'
import { parseResource } from '../../lib/resource.js'
import type { ParsedResource } from '../../lib/resource.js'
import { createRouteResources, parsePattern } from '../../lib/route-resource.js'
import { canonicalPath, encodePath, encodeSegment, routerPattern } from '../../lib/uri-path.js'
import { decodeHeaderValue, McpHeaderMismatchError } from '../../lib/mcp-operations.js'

t.test('describeError: name, code and message (with a cause), never the cause object', async (t) => {
  const err = Object.assign(new Error('outer', { cause: new Error('inner') }), { code: 'E_X' })
  t.same(describeError(err), { name: 'Error', code: 'E_X', message: 'outer: inner' })
  t.same(describeError('plain'), { message: 'plain' })
  t.same(describeError(new TypeError('t')), { name: 'TypeError', code: undefined, message: 't' })
  for (const level of ['debug', 'info', 'warn', 'error'] as const) t.equal(silentLogger[level]({}, 'x'), undefined)
})

t.test('parsePattern reads find-my-way patterns: parameters, regexes, "::", the wildcard', async (t) => {
  t.same(parsePattern('/mcp'), [{ kind: 'static', text: '/mcp' }])
  t.same(parsePattern('/tenants/:tenant/mcp'), [{ kind: 'static', text: '/tenants/' }, { kind: 'param', name: 'tenant' }, { kind: 'static', text: '/mcp' }])
  t.same(parsePattern('/t/:id(^\\d+)/x'), [{ kind: 'static', text: '/t/' }, { kind: 'param', name: 'id' }, { kind: 'static', text: '/x' }], 'regex parameters')
  t.same(parsePattern('/t/:id((a|b)\\))/x'), [{ kind: 'static', text: '/t/' }, { kind: 'param', name: 'id' }, { kind: 'static', text: '/x' }], 'nested and escaped parentheses')
  t.same(parsePattern('/files/*'), [{ kind: 'static', text: '/files/' }, { kind: 'wildcard' }])
  t.same(parsePattern('/a::b/:c'), [{ kind: 'static', text: '/a:b/' }, { kind: 'param', name: 'c' }], 'an escaped colon is literal')
  t.same(parsePattern('/:a-:b.json'), [{ kind: 'static', text: '/' }, { kind: 'param', name: 'a' }, { kind: 'static', text: '-' }, { kind: 'param', name: 'b' }, { kind: 'static', text: '.json' }])
  t.same(parsePattern('/t/:id(x'), [{ kind: 'static', text: '/t/' }, { kind: 'param', name: 'id' }], 'an unclosed regex ends the pattern')
  t.same(parsePattern('/:a(^\\d+):b'), [{ kind: 'static', text: '/' }, { kind: 'param', name: 'a' }, { kind: 'param', name: 'b' }], 'a parameter right after a regex: no empty static part between')
  t.same(parsePattern('*'), [{ kind: 'wildcard' }], 'the root wildcard alone: no empty static part before it')
})

t.test('createRouteResources: the longest resource a route lies within, never a fallback', async (t) => {
  const resources = ['https://mcp.example.com/mcp', 'https://mcp.example.com/tenants/caf%C3%A9/mcp', 'https://mcp.example.com/mcp/admin']
    .map((uri) => ({ parsed: parseResource(uri) as ParsedResource, name: uri }))
  const routes = createRouteResources(resources)
  const name = (r: { name: string } | undefined): string | undefined => r?.name
  t.equal(name(routes.forRoute('/mcp').fixed), 'https://mcp.example.com/mcp')
  t.equal(name(routes.forRoute('/mcp/sse').fixed), 'https://mcp.example.com/mcp', 'under a resource on a "/" boundary')
  t.equal(name(routes.forRoute('/tenants/café/mcp').fixed), 'https://mcp.example.com/tenants/caf%C3%A9/mcp', 'a decoded static route in RFC 3986 form')
  t.equal(routes.forRoute('/tenants/caf%C3%A9/mcp').outside, true, 'a "%" in a pattern is literal')
  t.equal(routes.forRoute('/mcp2').outside, true)
  t.equal(name(routes.forRoute('/mcp2').select?.({})), undefined)
  t.equal(routes.forRoute('/mcp'), routes.forRoute('/mcp'), 'bound once per pattern')
  const below = routes.forRoute('/mcp/tools/:x')
  t.equal(name(below.fixed), 'https://mcp.example.com/mcp', 'no parameter can reach another resource')
  const tenant = routes.forRoute('/tenants/:tenant/mcp')
  t.equal(tenant.fixed, undefined)
  t.equal(name(tenant.select?.({ tenant: 'café' })), 'https://mcp.example.com/tenants/caf%C3%A9/mcp')
  t.equal(name(tenant.select?.({ tenant: 'CAFÉ' })), undefined, 'case-sensitive')
  t.equal(name(tenant.select?.({ tenant: 'caf%C3%A9' })), undefined, 'a decoded "%" is a percent sign')
  t.equal(name(tenant.select?.({ tenant: 'a/b' })), undefined, 'a decoded "/" stays in its segment')
  t.equal(name(tenant.select?.({ tenant: '\uD800' })), undefined, 'not UTF-16: no URI')
  t.equal(name(tenant.nearest), 'https://mcp.example.com/tenants/caf%C3%A9/mcp')
  const admin = routes.forRoute('/mcp/:section')
  t.equal(name(admin.select?.({ section: 'admin' })), 'https://mcp.example.com/mcp/admin')
  t.equal(name(admin.select?.({ section: 'other' })), 'https://mcp.example.com/mcp')
  const all = routes.forRoute('/*')
  t.equal(name(all.select?.({ '*': 'tenants/café/mcp/x' })), 'https://mcp.example.com/tenants/caf%C3%A9/mcp', 'the wildcard spans segments')
  t.equal(name(all.select?.({})), undefined)
  t.equal(name(all.nearest), 'https://mcp.example.com/mcp', 'nothing shared beyond "/": the first resource')
  const single = createRouteResources([resources[0] as (typeof resources)[number]])
  t.equal(name(single.forRoute('/elsewhere/:x').fixed), 'https://mcp.example.com/mcp', 'one resource: every route')
  t.throws(() => createRouteResources([]), new TypeError('at least one resource is required'))
  const bare = createRouteResources(['https://mcp.example.com/mcp', 'https://mcp.example.com'].map((uri) => ({ parsed: parseResource(uri) as ParsedResource, name: uri })))
  t.equal(name(bare.forRoute('/other').fixed), 'https://mcp.example.com', 'a bare-origin resource covers every other path')
})

t.test('uri-path: RFC 3986 spelling of segments and paths, and the router\'s pattern for one', async (t) => {
  t.equal(encodeSegment('café'), 'caf%C3%A9')
  t.equal(encodeSegment("a:b@c!$&'()*+,;=-._~"), "a:b@c!$&'()*+,;=-._~", 'pchar stays plain')
  t.equal(encodeSegment('a/b?c#d%e f'), 'a%2Fb%3Fc%23d%25e%20f')
  t.equal(encodeSegment('\uDC00'), undefined)
  t.equal(encodePath('/a b/c'), '/a%20b/c')
  t.equal(encodePath('/\uDC00'), undefined)
  t.equal(canonicalPath('/caf%c3%a9/%7Euser/a%2fb'), '/caf%C3%A9/~user/a%2Fb')
  t.equal(canonicalPath('/%zz'), undefined)
  t.equal(canonicalPath('/%C3'), undefined, 'not UTF-8')
  t.equal(routerPattern('/tenants/caf%C3%A9/mcp'), '/tenants/café/mcp')
  t.equal(routerPattern('/api:v1/100%25'), '/api::v1/100%')
  t.equal(routerPattern('/a%2Fb'), undefined)
})

t.test('decodeHeaderValue and the JSON-RPC HeaderMismatch body', async (t) => {
  t.equal(decodeHeaderValue(`=?base64?${Buffer.from('héllo').toString('base64')}?=`), 'héllo')
  t.equal(decodeHeaderValue('plain'), 'plain')
  t.equal(decodeHeaderValue('=?base64?not base64?='), '=?base64?not base64?=')
  t.same(new McpHeaderMismatchError('m', 3).toJsonRpc(), { jsonrpc: '2.0', id: 3, error: { code: -32020, message: 'm' } })
})

t.test('parseResource: the refusal names the RFC 3986 spelling, the root path only when written; other refusals are the generic one', async (t) => {
  const write = (value: string, spelling: string) => `must be written in RFC 3986 form (UTF-8 percent-encoded, upper-case hex): write ${JSON.stringify(spelling)}; got ${JSON.stringify(value)}`
  t.equal(parseResource('https://mcp.exämple.com'), write('https://mcp.exämple.com', 'https://mcp.xn--exmple-cua.com'), 'no path written: none suggested')
  t.equal(parseResource('HTTPS://mcp.exämple.com'), write('HTTPS://mcp.exämple.com', 'https://mcp.xn--exmple-cua.com'), 'the scheme in any case')
  t.equal(parseResource('https://mcp.exämple.com/'), write('https://mcp.exämple.com/', 'https://mcp.xn--exmple-cua.com/'), 'the root path written: kept')
  t.equal(parseResource('https://mcp.exämple.com/ä'), write('https://mcp.exämple.com/ä', 'https://mcp.xn--exmple-cua.com/%C3%A4'))
  const generic = (value: string) => `must be an absolute https URI such as "https://mcp.example.com/mcp"; got ${JSON.stringify(value)}`
  t.equal(parseResource('https://exa mple.com/mcp'), generic('https://exa mple.com/mcp'), 'no URL at all: no spelling to suggest')
  t.equal(parseResource('https://ä.com/mcp\u0001ä'), generic('https://ä.com/mcp\u0001ä'), 'a control character: no spelling suggested (URL parsing would drop it)')
  t.match(parseResource('https://mcp.example.com/mcp?next=https://user@x'), { path: '/mcp', query: '?next=https://user@x' }, 'an @ in the query is not user information')
})
