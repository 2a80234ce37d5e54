// What every helper's failure looks like: node's AssertionError, which every
// runner reports, with the stack at the caller's line, and a bounded wait for
// a server that does not answer.
import assert from 'node:assert'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import {
  assertChallenge,
  assertDpopBoundBearerRejected,
  assertDpopProofAccepted,
  assertDpopProofChecksEnforced,
  assertMtlsBindingEnforced,
  assertReplayRejected,
  assertTokenValidationEnforced,
  createTestIssuer,
} from '../../testing.js'
import type { Injectable } from '../../testing.js'
import { RESOURCE, acceptAllApp, ca, failsWith, firstFrame, httpsApp, serverCertificate } from './fixtures.js'
import type { Test } from './fixtures.js'

const issuer = await createTestIssuer({ audience: RESOURCE })
const options = { url: '/mcp', issuer }

/** Every helper that drives an app, called from this file. */
const HELPERS: Array<[string, (app: Injectable, extra?: { timeout?: number }) => Promise<unknown>]> = [
  ['assertDpopBoundBearerRejected', (app, extra) => assertDpopBoundBearerRejected(app, { ...options, ...extra })],
  ['assertDpopProofAccepted', (app, extra) => assertDpopProofAccepted(app, { ...options, ...extra })],
  ['assertReplayRejected', (app, extra) => assertReplayRejected(app, { ...options, ...extra })],
  ['assertDpopProofChecksEnforced', (app, extra) => assertDpopProofChecksEnforced(app, { ...options, ...extra })],
  ['assertTokenValidationEnforced', (app, extra) => assertTokenValidationEnforced(app, { ...options, ...extra })],
]

t.test('the helpers throw node:assert\'s AssertionError (code ERR_ASSERTION), which every runner reports as a failure', async (t) => {
  const { app } = await acceptAllApp(t)
  for (const [name, run] of [...HELPERS, ['assertChallenge', async (app: Injectable) => assertChallenge(await app.inject({ method: 'GET', url: '/mcp', headers: {} }), { status: 401 })] as const]) {
    const err = await run(app).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof assert.AssertionError, name)
    t.equal((err as assert.AssertionError).code, 'ERR_ASSERTION', name)
    t.equal((err as assert.AssertionError).generatedMessage, false, name)
    t.match((err as Error).message, new RegExp(`^${name}: `), `${name}: the message starts with the helper's name`)
  }
})

t.test('an async helper\'s failure has the caller\'s frames: the stack starts at the test\'s line, not inside the kit', async (t) => {
  const { app } = await acceptAllApp(t)
  for (const [name, run] of HELPERS) {
    const err = await run(app).then(() => undefined, (e: Error) => e)
    t.match(firstFrame(err), /report\.test\.ts:\d+/, `${name}: first frame in this file`)
    t.notMatch(err?.stack, /lib\/testing\//, `${name}: no frame of the kit`)
    t.ok(err?.stack?.startsWith(`AssertionError [ERR_ASSERTION]: ${name}: `), `${name}: the stack begins with the message`)
  }
  const { url, issuer: mtlsIssuer } = await httpsApp(t, { auth: false })
  const err = await assertMtlsBindingEnforced({ url, issuer: mtlsIssuer, ca }).then(() => undefined, (e: Error) => e)
  t.match(firstFrame(err), /report\.test\.ts:\d+/, 'assertMtlsBindingEnforced: first frame in this file')
})

/** An app whose route never answers. */
async function hanging (t: Test): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  app.all('/mcp', () => new Promise(() => {}))
  await app.ready()
  return app
}

t.test('a server that never answers fails each helper after its timeout, naming the step and what to check', async (t) => {
  const app = await hanging(t)
  for (const [name, run] of HELPERS) {
    await failsWith(t, () => run(app, { timeout: 50 }), [
      new RegExp(`^${name}: `), /- no answer within 50 ms/, /hint: does a hook wait on something that never answers .* raise `timeout`/, /request: GET \/mcp/,
    ], name)
  }
})

t.test('assertMtlsBindingEnforced: a request without an answer is aborted at the timeout (the connection is closed)', async (t) => {
  const closed: string[] = []
  const slow = Fastify({ https: { key: serverCertificate.keyPem, cert: serverCertificate.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false } }) as unknown as FastifyInstance
  t.teardown(() => slow.close())
  slow.all('/mcp', (request) => new Promise(() => { request.raw.on('close', () => closed.push(request.url)) }))
  const origin = await slow.listen({ port: 0, host: '127.0.0.1' })
  await failsWith(t, () => assertMtlsBindingEnforced({ url: `${origin}/mcp`, issuer, ca, timeout: 100 }), [
    /^assertMtlsBindingEnforced: a certificate-bound token presented with the bound client certificate must be accepted/, /no answer within 100 ms/,
  ], 'a hanging https server')
  // The aborted request's socket closes; the server sees it.
  for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(closed, ['/mcp'], 'the server saw the connection close')
})

t.test('timeout must be a positive number of milliseconds', async (t) => {
  const app = await hanging(t)
  for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
    for (const [name, run] of HELPERS) {
      await t.rejects(run(app, { timeout }), { name: 'TypeError', message: new RegExp(`^${name}: timeout must be a positive number of milliseconds`) }, `${name}: ${String(timeout)}`)
    }
  }
})

t.test('a request that fails (the app throws instead of answering) is an AssertionError naming the step, with the cause', async (t) => {
  const broken: Injectable = { inject: async () => { throw new Error('plugin failed to load') } }
  for (const [name, run] of HELPERS) {
    const err = await failsWith(t, () => run(broken), [new RegExp(`^${name}: `), /- the request failed: plugin failed to load/], name)
    t.equal((err?.cause as Error | undefined)?.message, 'plugin failed to load', `${name}: the original error is the cause`)
  }
})
