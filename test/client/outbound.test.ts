// Safe outbound requests: https (http only for loopback), `allowUrl`, no
// redirects, a response-size cap and a timeout on every request a remote
// server chose the URL of; special-use addresses refused where the connection
// is made (so DNS rebinding gains nothing) when private networks are off.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { isSpecialUseAddress, literalAddress } from '../../lib/client/network.js'
import { createOutbound, isSecureUrl } from '../../lib/client/outbound.js'
import { addressCheckingFetch, publicAddressFetch } from '../../lib/client/public-fetch.js'
import { json, startFixture } from '../helpers/http-fixture.js'

const plain = (input: string | URL | Request, init?: RequestInit): Promise<Response> => fetch(input, init)

t.test('special-use addresses: loopback, private, link-local, CGNAT, multicast, documentation, mapped IPv4, NAT64; public ones pass', async (t) => {
  for (const address of ['127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '192.0.2.1', '::1', '::', 'fe80::1', 'fd00::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2001:db8::1', 'ff02::1', 'not-an-ip']) {
    t.ok(isSpecialUseAddress(address), `${address} refused`)
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    t.notOk(isSpecialUseAddress(address), `${address} allowed`)
  }
  t.equal(literalAddress('[::1]'), '::1')
  t.equal(literalAddress('127.0.0.1'), '127.0.0.1')
  t.equal(literalAddress('example.com'), undefined)
})

t.test('isSecureUrl: https anywhere, http only on loopback', async (t) => {
  t.ok(isSecureUrl(new URL('https://as.example.com/token')))
  t.ok(isSecureUrl(new URL('http://127.0.0.1:3000/token')))
  t.ok(isSecureUrl(new URL('http://localhost/token')))
  t.ok(isSecureUrl(new URL('http://[::1]/token')))
  t.notOk(isSecureUrl(new URL('http://as.example.com/token')))
  t.notOk(isSecureUrl(new URL('ftp://127.0.0.1/x')))
})

t.test('OAuth requests: allowUrl decides, redirects are refused, bodies over the cap are refused, slow servers time out', async (t) => {
  const f = await startFixture(t)
  f.on('GET', '/ok', (_r, res) => json(res, 200, { ok: true }))
  f.on('GET', '/redirect', (_r, res) => { res.writeHead(302, { location: 'http://169.254.169.254/latest' }).end() })
  f.on('GET', '/big', (_r, res) => json(res, 200, { pad: 'x'.repeat(4096) }))
  f.on('GET', '/big-chunked', (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    for (let i = 0; i < 8; i++) res.write('x'.repeat(1024))
    res.end()
  })
  f.on('GET', '/slow', async (_r, res) => {
    await sleep(1000)
    json(res, 200, {})
  })
  f.on('GET', '/empty', (_r, res) => { res.writeHead(204).end() })
  const seen: string[] = []
  const outbound = createOutbound({
    fetch: plain,
    timeoutMs: 200,
    maxBytes: 2048,
    allowUrl: (url) => {
      seen.push(url.pathname)
      if (url.pathname === '/throws') throw new Error('policy down')
      return url.pathname !== '/refused'
    },
  })
  const ok = await outbound.oauth(`${f.origin}/ok`, { method: 'GET' })
  t.same(await ok.json(), { ok: true }, 'a guarded response is readable as usual')
  t.equal((await outbound.oauth(`${f.origin}/empty`, { method: 'GET' })).status, 204)
  await t.rejects(outbound.oauth(`${f.origin}/refused`, {}), { name: 'McpClientError', code: 'FST_MCP_CLIENT_OUTBOUND', reason: 'outbound.url_refused' })
  await t.rejects(outbound.oauth(`${f.origin}/throws`, {}), { name: 'McpClientError', reason: 'outbound.url_refused' }, 'a throwing allowUrl refuses')
  await t.rejects(outbound.oauth(`${f.origin}/redirect`, {}), { name: 'McpClientError', reason: 'outbound.redirect' })
  await t.rejects(outbound.oauth(`${f.origin}/big`, {}), { name: 'McpClientError', reason: 'outbound.too_large' }, 'declared length over the cap')
  await t.rejects(outbound.oauth(`${f.origin}/big-chunked`, {}), { name: 'McpClientError', reason: 'outbound.too_large' }, 'streamed body over the cap')
  await t.rejects(outbound.oauth(`${f.origin}/slow`, {}), { name: 'McpClientError', reason: 'outbound.timeout' })
  await t.rejects(outbound.oauth('http://as.example.com/token', {}), { name: 'McpClientError', reason: 'outbound.scheme' })
  await t.rejects(outbound.oauth('http://127.0.0.1:1/token', {}), { name: 'McpClientError', reason: 'outbound.failed' })
  t.notOk(f.paths().includes('GET /refused'), 'a refused URL is never requested')
  t.ok(seen.includes('/ok'), 'allowUrl saw the request')

  // The caller's abort signal still works beside the timeout.
  const controller = new AbortController()
  controller.abort()
  await t.rejects(outbound.oauth(`${f.origin}/ok`, { signal: controller.signal }), { name: 'McpClientError', reason: 'outbound.failed' })

  // The MCP request: allowUrl applies, no cap and no timeout (SSE streams are long and large).
  t.equal((await outbound.resource(`${f.origin}/big`, { method: 'GET' })).status, 200)
  await t.rejects(outbound.resource(`${f.origin}/refused`, {}), { name: 'McpClientError', reason: 'outbound.url_refused' })
})

t.test('a body that fails mid-stream is an outbound failure', async (t) => {
  const f = await startFixture(t)
  f.on('GET', '/cut', (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' })
    res.write('{"a":')
    setTimeout(() => res.destroy(), 20)
  })
  const outbound = createOutbound({ fetch: plain, timeoutMs: 2000, maxBytes: 2048, allowUrl: undefined })
  await t.rejects(outbound.oauth(`${f.origin}/cut`, {}), { name: 'McpClientError', reason: 'outbound.failed' })
})

t.test('publicAddressFetch refuses loopback and private targets, spelled or resolved', async (t) => {
  const f = await startFixture(t)
  f.on('GET', '/x', (_r, res) => json(res, 200, {}))
  const port = new URL(f.origin).port
  for (const url of [`http://127.0.0.1:${port}/x`, `http://localhost:${port}/x`, `http://[::1]:${port}/x`, 'http://10.0.0.1/x', 'http://0x7f.1/x']) {
    await t.rejects(publicAddressFetch(url), { name: 'McpClientError', reason: 'outbound.private_address' }, url)
  }
  t.same(f.paths(), [], 'nothing reached the loopback server')
  await t.rejects(publicAddressFetch('http://name.invalid/x'), { code: 'ENOTFOUND' }, 'a name that does not resolve fails as DNS says')
})

t.test('addressCheckingFetch with a policy allowing loopback: a working fetch (methods, bodies, headers, streaming, HEAD, 204)', async (t) => {
  const f = await startFixture(t)
  f.on('POST', '/echo', (r, res) => json(res, 200, { body: r.body, type: r.headers['content-type'], custom: r.headers['x-custom'] }, { 'set-cookie': 'a=1' }))
  f.on('GET', '/stream', (_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('data: 1\n\n')
    setTimeout(() => res.end('data: 2\n\n'), 10)
  })
  f.on('HEAD', '/head', (_r, res) => { res.writeHead(200, { 'x-h': '1' }).end() })
  f.on('GET', '/none', (_r, res) => { res.writeHead(204).end() })
  const only10 = addressCheckingFetch((address) => address.startsWith('10.'))
  const echo = async (body: RequestInit['body']): Promise<unknown> => await (await only10(`${f.origin}/echo`, { method: 'POST', body, headers: { 'x-custom': 'y' } })).json()
  t.same(await echo('text'), { body: 'text', custom: 'y' })
  t.same(await echo(new TextEncoder().encode('bytes')), { body: 'bytes', custom: 'y' })
  t.same(await echo(new TextEncoder().encode('buffer').buffer), { body: 'buffer', custom: 'y' })
  t.same(await echo(new URLSearchParams({ a: 'b' })), { body: 'a=b', type: 'application/x-www-form-urlencoded;charset=UTF-8', custom: 'y' })
  const request = new Request(`${f.origin}/echo`, { method: 'POST', body: 'from a Request', headers: { 'x-custom': 'z' } })
  t.same(await (await only10(request)).json(), { body: 'from a Request', type: 'text/plain;charset=UTF-8', custom: 'z' })
  const stream = await only10(`${f.origin}/stream`)
  t.equal(stream.headers.get('content-type'), 'text/event-stream')
  t.equal(await stream.text(), 'data: 1\n\ndata: 2\n\n')
  const head = await only10(`${f.origin}/head`, { method: 'HEAD' })
  t.equal(head.headers.get('x-h'), '1')
  t.equal((await only10(`${f.origin}/none`)).status, 204)
  await t.rejects(only10('http://10.0.0.1/x'), { name: 'McpClientError', reason: 'outbound.private_address' })
})
