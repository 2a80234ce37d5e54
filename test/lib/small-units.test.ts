// Small pure helpers the larger suites reach only partly.
import t from 'tap'
import { describeError, silentLogger } from '../../lib/logger.js'
import { isStaticForResources, routePath } from '../../lib/resource.js'
import { decodeHeaderValue, McpHeaderMismatchError } from '../../lib/mcp-operations.js'

t.test('describeError: name, code and message (with a cause), never the cause object', async (t) => {
  const err = Object.assign(new Error('outer', { cause: new Error('inner') }), { code: 'E_X' })
  t.same(describeError(err), { name: 'Error', code: 'E_X', message: 'outer: inner' })
  t.same(describeError('plain'), { message: 'plain' })
  t.same(describeError(new TypeError('t')), { name: 'TypeError', code: undefined, message: 't' })
  for (const level of ['debug', 'info', 'warn', 'error'] as const) t.equal(silentLogger[level]({}, 'x'), undefined)
})

t.test('routePath fills a pattern from the router\'s parameters', async (t) => {
  t.equal(routePath('/mcp', {}), '/mcp')
  t.equal(routePath('/tenants/:tenant/mcp', { tenant: 'acme' }), '/tenants/acme/mcp')
  t.equal(routePath('/t/:id(^\\d+)/x', { id: '42' }), '/t/42/x', 'regex parameters')
  t.equal(routePath('/files/*', { '*': 'a/b' }), '/files/a/b')
  t.equal(routePath('/a::b/:c', { c: 'd' }), '/a:b/d', 'an escaped colon is literal')
  t.equal(routePath('/t/:missing', undefined), '/t/')
})

t.test('isStaticForResources: a parameter that could choose among resources makes a route dynamic', async (t) => {
  const paths = ['/mcp', '/tenants/acme/mcp']
  t.equal(isStaticForResources('/mcp', paths), true)
  t.equal(isStaticForResources('/mcp/:x', paths), true, 'below one resource')
  t.equal(isStaticForResources('/tenants/:t/mcp', paths), false, 'the parameter decides the tenant')
  t.equal(isStaticForResources('/other/*', paths), true)
  t.equal(isStaticForResources('/a::b', paths), true, 'an escaped colon is not a parameter')
})

t.test('decodeHeaderValue and the JSON-RPC HeaderMismatch body', async (t) => {
  t.equal(decodeHeaderValue(`=?base64?${Buffer.from('héllo').toString('base64')}?=`), 'héllo')
  t.equal(decodeHeaderValue('plain'), 'plain')
  t.equal(decodeHeaderValue('=?base64?not base64?='), '=?base64?not base64?=')
  t.same(new McpHeaderMismatchError('m', 3).toJsonRpc(), { jsonrpc: '2.0', id: 3, error: { code: -32020, message: 'm' } })
})
