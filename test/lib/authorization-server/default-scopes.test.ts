// The default scope of a scope-less authorization request (MCP clients send no scope when
// none is advertised; oidc-provider would end such a request with access_denied).
import t from 'tap'
import { defaultScope } from '../../../lib/authorization-server/default-scopes.js'

const DEFAULTS = new Map<string, readonly string[]>([
  ['https://mcp.example.com/mcp', ['mcp:tools:read']],
  ['https://files.example.com/mcp', ['files:read', 'mcp:tools:read']],
  ['https://empty.example.com/mcp', []],
])
const defaultsOf = (resource: string): readonly string[] | undefined => DEFAULTS.get(resource)

t.test('a request naming one resource and no scope gets that resource\'s default scopes', async (t) => {
  t.equal(defaultScope({ resource: 'https://mcp.example.com/mcp' }, defaultsOf), 'mcp:tools:read')
  t.equal(defaultScope({ resource: ['https://mcp.example.com/mcp'], scope: null }, defaultsOf), 'mcp:tools:read', 'scope absent from a query')
})

t.test('RFC 6749 §3.3: an empty or blank scope names nothing and gets the defaults too', async (t) => {
  t.equal(defaultScope({ resource: 'https://mcp.example.com/mcp', scope: '' }, defaultsOf), 'mcp:tools:read')
  t.equal(defaultScope({ resource: 'https://mcp.example.com/mcp', scope: '  ' }, defaultsOf), 'mcp:tools:read')
})

t.test('several resources: the union of their defaults, in order, each scope once', async (t) => {
  t.equal(
    defaultScope({ resource: ['https://mcp.example.com/mcp', 'https://files.example.com/mcp'] }, defaultsOf),
    'mcp:tools:read files:read'
  )
})

t.test('a request with a scope is left alone, whatever the scope', async (t) => {
  t.equal(defaultScope({ resource: 'https://mcp.example.com/mcp', scope: 'mcp:tools:call' }, defaultsOf), undefined)
  t.equal(defaultScope({ resource: 'https://mcp.example.com/mcp', scope: 'openid' }, defaultsOf), undefined)
})

t.test('a request naming no resource gets no default (there is nothing to take it from)', async (t) => {
  t.equal(defaultScope({}, defaultsOf), undefined)
  t.equal(defaultScope({ resource: null }, defaultsOf), undefined)
  t.equal(defaultScope({ resource: [] }, defaultsOf), undefined)
})

t.test('a resource without defaults makes the whole request default-less (no partial grant)', async (t) => {
  t.equal(defaultScope({ resource: 'https://unknown.example.com/mcp' }, defaultsOf), undefined, 'unknown resource')
  t.equal(defaultScope({ resource: 'https://empty.example.com/mcp' }, defaultsOf), undefined, 'an empty default list')
  t.equal(defaultScope({ resource: ['https://mcp.example.com/mcp', 'https://unknown.example.com/mcp'] }, defaultsOf), undefined)
})
