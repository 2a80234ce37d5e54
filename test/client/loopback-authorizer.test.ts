// loopbackAuthorizer (RFC 8252 §7.3): a listener on 127.0.0.1 only, taking the
// one callback whose state matches, closing after it or after the timeout, and
// showing the URL only through the caller's `open`.
import { createServer } from 'node:net'
import t from 'tap'
import { loopbackAuthorizer } from '../../client.js'
import { freePort } from '../helpers/net.js'

const context = (state: string) => ({ state, redirectUri: '', issuer: 'https://as.example.com', resource: 'https://mcp.example.com/mcp' })

t.test('takes the callback with the matching state; stray and forged requests do not end the wait; then closes', async (t) => {
  const port = await freePort()
  const opened: URL[] = []
  const statuses: number[] = []
  const authorize = loopbackAuthorizer({
    port,
    open: async (url) => {
      opened.push(url)
      const base = `http://127.0.0.1:${port}`
      statuses.push((await fetch(`${base}/other`)).status)
      statuses.push((await fetch(`${base}/callback?code=evil&state=forged`)).status)
      statuses.push((await fetch(`${base}/callback?code=evil`)).status)
      const done = await fetch(`${base}/callback?code=good&state=s1&iss=https%3A%2F%2Fas.example.com`)
      statuses.push(done.status)
      t.equal(done.headers.get('cache-control'), 'no-store')
      t.match(await done.text(), /You can close this window/)
    },
  })
  t.equal(authorize.redirectUri, `http://127.0.0.1:${port}/callback`)
  const callback = await authorize(new URL('https://as.example.com/authorize?state=s1'), context('s1'))
  t.equal(String(callback), `http://127.0.0.1:${port}/callback?code=good&state=s1&iss=https%3A%2F%2Fas.example.com`, 'the whole callback URL, for the iss and state checks')
  t.same(statuses, [404, 400, 400, 200])
  t.same(opened.map(String), ['https://as.example.com/authorize?state=s1'], 'open was called once, with the URL; nothing else shows it')
  await t.rejects(fetch(`http://127.0.0.1:${port}/callback`), 'closed after the callback')
})

t.test('listens on 127.0.0.1 only', async (t) => {
  const port = await freePort()
  let ipv6: unknown
  const authorize = loopbackAuthorizer({
    port,
    open: async () => {
      ipv6 = await fetch(`http://[::1]:${port}/callback?state=s`).then((r) => r.status, (err: Error) => err)
      await fetch(`http://127.0.0.1:${port}/callback?state=s`)
    },
  })
  await authorize(new URL('https://as.example.com/authorize'), context('s'))
  t.type(ipv6, Error, 'not reachable on ::1')
})

t.test('two authorizations at once share the listener and each gets its own callback', async (t) => {
  const port = await freePort()
  const pending: Array<() => Promise<unknown>> = []
  const authorize = loopbackAuthorizer({ port, open: (url) => { pending.push(async () => await fetch(`http://127.0.0.1:${port}/callback?state=${url.searchParams.get('state') ?? ''}&code=c`)) } })
  const a = authorize(new URL('https://as.example.com/a?state=A'), context('A'))
  const b = authorize(new URL('https://as.example.com/b?state=B'), context('B'))
  while (pending.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  await pending[1]?.()
  await pending[0]?.()
  t.equal(new URL(await a).searchParams.get('state'), 'A')
  t.equal(new URL(await b).searchParams.get('state'), 'B')
})

t.test('gives up after the timeout, when open fails, or when the port is taken', async (t) => {
  const port = await freePort()
  await t.rejects(loopbackAuthorizer({ port, open: () => {}, timeout: 0.1 })(new URL('https://as.example.com/a'), context('x')), { name: 'McpClientError', reason: 'authorization.timeout' })
  await t.rejects(fetch(`http://127.0.0.1:${port}/callback`), 'closed after the timeout')
  await t.rejects(loopbackAuthorizer({ port, open: () => { throw new Error('no display') } })(new URL('https://as.example.com/a'), context('x')), { name: 'McpClientError', reason: 'authorization.authorizer_failed' })
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { busy.close() })
  await t.rejects(loopbackAuthorizer({ port, open: () => {} })(new URL('https://as.example.com/a'), context('x')), { name: 'McpClientError', reason: 'authorization.authorizer_failed', message: /cannot listen/ })
})

t.test('options are checked when the authorizer is made', async (t) => {
  const open = (): void => {}
  for (const [options, message] of [
    [undefined, /options must be/],
    [{ port: 0, open }, /fixed port/],
    [{ port: 70000, open }, /fixed port/],
    [{ port: 8914, open, path: 'callback' }, /path must be a path/],
    [{ port: 8914 }, /open\(url\) is required/],
    [{ port: 8914, open, timeout: 0 }, /timeout must be/],
  ] as const) {
    t.throws(() => loopbackAuthorizer(options as never), { code: 'FST_MCP_AUTH_INVALID_OPTION', message })
  }
  t.equal(loopbackAuthorizer({ port: 8914, open, path: '/cb' }).redirectUri, 'http://127.0.0.1:8914/cb')
})
