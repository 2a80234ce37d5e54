// parseWwwAuthenticate: RFC 9110 §11.6.1 challenges as MCP clients and the
// kit's helpers read them.
import t from 'tap'
import { parseWwwAuthenticate } from '../../testing.js'
import { PRM } from './fixtures.js'

t.test('parseWwwAuthenticate: RFC 9110 §11.6.1 challenges, params, quoted strings, token68', async (t) => {
  t.same(parseWwwAuthenticate(undefined), [])
  t.same(parseWwwAuthenticate(''), [])
  t.same(parseWwwAuthenticate('Bearer'), [{ scheme: 'Bearer', params: {} }])
  t.same(parseWwwAuthenticate(`Bearer error="invalid_token", scope="a b", resource_metadata="${PRM}", DPoP algs="ES256 EdDSA", error=use_dpop_nonce`), [
    { scheme: 'Bearer', params: { error: 'invalid_token', scope: 'a b', resource_metadata: PRM } },
    { scheme: 'DPoP', params: { algs: 'ES256 EdDSA', error: 'use_dpop_nonce' } },
  ], 'several challenges in one line, quoted and token values')
  t.same(parseWwwAuthenticate('Basic realm="a, b=\\"c\\" \\\\ d", Bearer'), [
    { scheme: 'Basic', params: { realm: 'a, b="c" \\ d' } },
    { scheme: 'Bearer', params: {} },
  ], 'commas, quotes and backslashes inside a quoted-string')
  t.same(parseWwwAuthenticate('BEARER ERROR = "x" ,Realm=y'), [{ scheme: 'BEARER', params: { error: 'x', realm: 'y' } }], 'names lowercased, BWS around "=", OWS around ","')
  t.same(parseWwwAuthenticate(' , Negotiate abc+/_-.~==, , Basic,Bearer realm="r",'), [
    { scheme: 'Negotiate', params: {}, token68: 'abc+/_-.~==' },
    { scheme: 'Basic', params: {} },
    { scheme: 'Bearer', params: { realm: 'r' } },
  ], 'token68, empty list elements, a scheme without params')
  t.same(parseWwwAuthenticate(['Bearer realm="a"', 'DPoP algs="ES256"']).map((c) => c.scheme), ['Bearer', 'DPoP'], 'several field lines')
  t.same(parseWwwAuthenticate('Bearer realm=""'), [{ scheme: 'Bearer', params: { realm: '' } }], 'an empty quoted-string')

  for (const bad of ['Bearer realm="unterminated', 'Bearer a=b c=d', 'Bearer realm="a", realm="b"', '=x', 'Bearer ,a=b', 'Negotiate abc, realm=x', 'Bearer realm="\x01"', 'Bearer\trealm="a"']) {
    t.throws(() => parseWwwAuthenticate(bad), SyntaxError, JSON.stringify(bad))
  }
  t.throws(() => parseWwwAuthenticate('Bearer a=b c=d'), /expected "," between challenges at character 12/, 'the error names the position')
})
