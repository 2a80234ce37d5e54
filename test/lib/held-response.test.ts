// holdResponseHead on a real node:http server: a response goes on untouched when
// `inspect` lets it; while a decision is pending nothing reaches the socket (writes,
// chained calls and implicit heads are held in order); fulfilled → the response as
// written; rejected → `refuse` writes another and the held head never leaves.
import { createServer } from 'node:http'
import { connect, createServer as createHttp2Server } from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { holdResponseHead } from '../../lib/held-response.js'
import type { ResponseHead } from '../../lib/held-response.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

interface Deferred { promise: Promise<void>, resolve: () => void, reject: (err: unknown) => void }
function deferred (): Deferred {
  const settle: Partial<Deferred> = {}
  const promise = new Promise<void>((resolve, reject) => { settle.resolve = resolve; settle.reject = reject })
  return { promise, resolve: settle.resolve as () => void, reject: settle.reject as (err: unknown) => void }
}

/** A server whose handler is set per test; resolves with its base URL. */
async function serve (t: Test, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

t.test('inspect returning undefined: the response goes on as written, and the methods are the originals again', async (t) => {
  const heads: Array<{ status: number, session: string | undefined, other: string | undefined }> = []
  let own: string[] = []
  const url = await serve(t, (_req, res) => {
    holdResponseHead(res, (head) => {
      heads.push({ status: head.statusCode, session: head.header('mcp-session-id'), other: head.header('x-absent') })
      return undefined
    }, () => t.fail('never refused'))
    res.setHeader('mcp-session-id', 'from-setHeader')
    res.writeHead(201, 'Made', { 'Mcp-Session-Id': ['a', 'b'], 'x-n': 5 }).end('body')
    own = ['writeHead', 'write', 'end', 'flushHeaders'].filter((m) => Object.hasOwn(res, m))
  })
  const res = await fetch(url)
  t.equal(res.status, 201)
  t.equal(await res.text(), 'body')
  t.equal(res.headers.get('mcp-session-id'), 'a, b')
  t.same(heads, [{ status: 201, session: 'a, b', other: undefined }], 'writeHead\'s headers (after a status message) win over setHeader\'s')
  t.same(own, [], 'no own method left on the response')
})

t.test('held: nothing leaves until the decision; then every write, in order', async (t) => {
  const decision = deferred()
  let sentWhileHeld: boolean | undefined
  let seen: ResponseHead | undefined
  const url = await serve(t, (_req, res) => {
    holdResponseHead(res, (head) => { seen = head; return decision.promise }, () => t.fail('never refused'))
    t.equal(res.writeHead(200, ['Content-Type', 'text/plain', 'Mcp-Session-Id', 'S1']), res, 'writeHead chains while held')
    t.equal(res.write('one '), true, 'write reports no back-pressure while held')
    res.flushHeaders()
    res.end('two')
    sentWhileHeld = res.headersSent
    setImmediate(() => decision.resolve())
  })
  const res = await fetch(url)
  t.equal(sentWhileHeld, false, 'the head had not been sent when the handler returned')
  t.equal(seen?.header('mcp-session-id'), 'S1', 'a flat [name, value] array is read')
  t.equal(seen?.header('content-type'), 'text/plain')
  t.equal(res.headers.get('mcp-session-id'), 'S1')
  t.equal(await res.text(), 'one two')
})

t.test('an implicit head (setHeader, then end) is held too', async (t) => {
  const decision = deferred()
  let seen: string | undefined
  const url = await serve(t, (_req, res) => {
    holdResponseHead(res, (head) => { seen = head.header('mcp-session-id'); return decision.promise }, () => t.fail('never refused'))
    res.statusCode = 202
    res.setHeader('Mcp-Session-Id', 'S2')
    res.end('done')
    setImmediate(() => decision.resolve())
  })
  const res = await fetch(url)
  t.equal(seen, 'S2')
  t.equal(res.status, 202)
  t.equal(await res.text(), 'done')
})

t.test('rejected: the held writes are dropped and refuse answers instead', async (t) => {
  const url = await serve(t, (_req, res) => {
    holdResponseHead(res, () => Promise.reject(new Error('store down')), (err) => {
      res.removeHeader('mcp-session-id')
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ refused: (err as Error).message }))
    })
    res.setHeader('x-kept', 'yes')
    res.writeHead(200, { 'mcp-session-id': 'S3' })
    res.write('secret ')
    res.end('payload')
  })
  const res = await fetch(url)
  t.equal(res.status, 503)
  t.equal(res.headers.get('mcp-session-id'), null, 'the held head never left')
  t.equal(res.headers.get('x-kept'), 'yes', 'setHeader headers stay unless refuse removes them')
  t.same(await res.json(), { refused: 'store down' })
})

t.test('an inspect that throws is a refusal', async (t) => {
  const url = await serve(t, (_req, res) => {
    holdResponseHead(res, () => { throw new Error('bug') }, (err) => {
      res.writeHead(500).end((err as Error).message)
    })
    res.writeHead(200, { 'mcp-session-id': 'S4' }).end('never')
  })
  const res = await fetch(url)
  t.equal(res.status, 500)
  t.equal(await res.text(), 'bug')
})

t.test('own methods already on the response come back after release', async (t) => {
  let calls = 0
  let restored: boolean | undefined
  const url = await serve(t, (_req, res) => {
    const original = res.end.bind(res)
    const wrapped = ((...args: Parameters<ServerResponse['end']>) => { calls++; return original(...args) }) as ServerResponse['end']
    res.end = wrapped
    holdResponseHead(res, () => undefined, () => t.fail('never refused'))
    res.end('ok')
    restored = res.end === wrapped
  })
  const res = await fetch(url)
  t.equal(await res.text(), 'ok')
  t.equal(calls, 1, 'the earlier wrapper still ran')
  t.equal(restored, true)
})

t.test('a replay that throws destroys the response instead of leaving it hanging', async (t) => {
  const decision = deferred()
  const url = await serve(t, (_req, res) => {
    holdResponseHead(res, () => decision.promise, () => t.fail('never refused'))
    res.writeHead(200)
    // Invalid after the head is out: throws when replayed.
    res.writeHead(Number.NaN)
    setImmediate(() => decision.resolve())
  })
  await t.rejects(fetch(url).then((res) => res.text()), 'the client sees the connection end')
})

t.test('an HTTP/2 compatibility response is held and released the same way', async (t) => {
  const decision = deferred()
  const server = createHttp2Server((_req, res) => {
    holdResponseHead(res, () => decision.promise, () => t.fail('never refused'))
    res.writeHead(200, { 'mcp-session-id': 'H2' })
    res.end('over h2')
    setImmediate(() => decision.resolve())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  t.teardown(() => client.close())
  const { headers, body } = await new Promise<{ headers: Record<string, unknown>, body: string }>((resolve, reject) => {
    const stream = client.request({ ':path': '/' })
    let received: Record<string, unknown> = {}
    let text = ''
    stream.on('response', (h) => { received = h })
    stream.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
    stream.on('end', () => resolve({ headers: received, body: text }))
    stream.on('error', reject)
    stream.end()
  })
  t.equal(headers[':status'], 200)
  t.equal(headers['mcp-session-id'], 'H2')
  t.equal(body, 'over h2')
})
