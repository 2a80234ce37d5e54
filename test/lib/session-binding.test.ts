// lib/session-binding.ts without a server: the identity tuple (each part counts,
// unbindable tokens), the store key, the binder's decisions (match, mismatch,
// missing or malformed record, refresh once per idleTtl / 10, conflicts, store
// failures → 503), and which JSON-RPC bodies open a session.
import { hash } from 'node:crypto'
import t from 'tap'
import { isMcpAuthError } from '../../lib/errors.js'
import { createSessionBinder, opensSession, SESSION_NOT_FOUND_BODY, sessionIdentity, sessionKey } from '../../lib/session-binding.js'
import { MemorySessionStore } from '../../lib/stores/memory-session-store.js'
import type { SessionStore } from '../../lib/stores/session-store.js'
import type { McpAuthContext, McpSender } from '../../types/index.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

function context (overrides: Partial<Record<'issuer' | 'subject' | 'clientId' | 'resource', string | undefined>> & { sender?: McpSender } = {}): McpAuthContext {
  return {
    issuer: 'https://issuer.test',
    subject: 'alice',
    clientId: 'app',
    resource: 'https://mcp.example.com/mcp',
    sender: { binding: 'bearer' },
    ...overrides,
  } as McpAuthContext
}

t.test('sessionKey: the SHA-256 of the session ID, never the ID', async (t) => {
  t.equal(sessionKey('abc'), hash('sha256', 'abc', 'base64url'))
  t.not(sessionKey('abc'), sessionKey('abd'))
  t.notOk(sessionKey('abc').includes('abc'))
})

t.test('sessionIdentity: every part of the tuple counts', async (t) => {
  const base = sessionIdentity(context())
  t.match(base, /^[\w-]{43}$/)
  t.equal(sessionIdentity(context()), base, 'the same tuple, the same identity (a refreshed token matches)')
  const variants: Array<[string, McpAuthContext]> = [
    ['issuer', context({ issuer: 'https://other.test' })],
    ['subject', context({ subject: 'bob' })],
    ['client', context({ clientId: 'other-app' })],
    ['resource', context({ resource: 'https://mcp.example.com/other' })],
    ['no subject', context({ subject: undefined })],
    ['no client', context({ clientId: undefined })],
    ['DPoP', context({ sender: { binding: 'dpop', jkt: 'key-1' } })],
    ['mTLS', context({ sender: { binding: 'mtls', x5t: 'key-1' } })],
  ]
  const seen = new Set([base])
  for (const [part, variant] of variants) {
    const identity = sessionIdentity(variant)
    t.not(identity, base, `another ${part} is another identity`)
    t.notOk(seen.has(identity as string), `${part}: distinct from every other variant`)
    seen.add(identity as string)
  }
  t.not(sessionIdentity(context({ sender: { binding: 'dpop', jkt: 'key-1' } })), sessionIdentity(context({ sender: { binding: 'dpop', jkt: 'key-2' } })), 'another DPoP key')
  t.not(sessionIdentity(context({ sender: { binding: 'mtls', x5t: 'c1' } })), sessionIdentity(context({ sender: { binding: 'mtls', x5t: 'c2' } })), 'another certificate')
  t.not(sessionIdentity(context({ subject: 'x', clientId: undefined })), sessionIdentity(context({ subject: undefined, clientId: 'x' })), 'a subject is not a client of the same name')
  t.not(sessionIdentity(context({ subject: 'a","b' })), sessionIdentity(context({ subject: 'a', clientId: 'b' })), 'no part can spell two')
})

t.test('sessionIdentity: a token naming neither a subject nor a client cannot own a session', async (t) => {
  t.equal(sessionIdentity(context({ subject: undefined, clientId: undefined })), undefined)
  t.equal(sessionIdentity(context({ subject: '', clientId: '' })), undefined, 'empty strings name no one')
  t.equal(sessionIdentity(context({ subject: '', clientId: undefined })), undefined)
  t.type(sessionIdentity(context({ subject: undefined, clientId: 'app' })), 'string', 'a client alone (client credentials) is bindable')
  t.type(sessionIdentity(context({ subject: 'alice', clientId: undefined })), 'string', 'a subject alone is bindable')
})

t.test('the 404 body is the MCP transport\'s answer for an unknown session', async (t) => {
  t.same(JSON.parse(SESSION_NOT_FOUND_BODY), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null })
})

interface Logged { level: string, msg: string }

function binderWith (store: SessionStore, now: { value: number }, idleTtl = 100) {
  const logs: Logged[] = []
  const logger = {
    debug: (_o: object, msg: string) => logs.push({ level: 'debug', msg }),
    info: (_o: object, msg: string) => logs.push({ level: 'info', msg }),
    warn: (_o: object, msg: string) => logs.push({ level: 'warn', msg }),
    error: (_o: object, msg: string) => logs.push({ level: 'error', msg }),
  }
  return { binder: createSessionBinder({ store, idleTtl, clock: () => now.value * 1000, logger }), logs }
}

async function refusal (t: Test, pending: Promise<unknown>, expected: { status: number, reason: string }, message: string): Promise<void> {
  const err = await pending.then(() => undefined, (e: unknown) => e)
  t.ok(isMcpAuthError(err), `${message}: an McpAuthError`)
  t.match(err, { statusCode: expected.status, reason: expected.reason }, message)
}

const ALICE = sessionIdentity(context()) as string
const BOB = sessionIdentity(context({ subject: 'bob' })) as string

t.test('binder: the opener passes; another identity, no record or a malformed one → 404', async (t) => {
  const now = { value: 1_000_000 }
  const store = new MemorySessionStore({ clock: () => now.value })
  const { binder } = binderWith(store, now)
  await binder.open('s1', ALICE)
  t.equal(store.get(sessionKey('s1')), `1 1000000 ${ALICE}`, 'the record: version, time written, identity digest')
  await t.resolves(binder.check('s1', ALICE))
  await refusal(t, binder.check('s1', BOB), { status: 404, reason: 'session.identity_mismatch' }, 'another identity')
  await refusal(t, binder.check('s2', ALICE), { status: 404, reason: 'session.identity_mismatch' }, 'no record')
  for (const bad of ['garbage', `2 1000000 ${ALICE}`, `1 x ${ALICE}`, `1 1000000 ${ALICE}x`, ALICE]) {
    store.refresh(sessionKey('s1'), bad, 100)
    await refusal(t, binder.check('s1', ALICE), { status: 404, reason: 'session.identity_mismatch' }, `a malformed record ${JSON.stringify(bad.slice(0, 12))}`)
  }
})

t.test('binder: the record is rewritten once it is idleTtl / 10 old, and lives idleTtl from then', async (t) => {
  const now = { value: 1_000_000 }
  const store = new MemorySessionStore({ clock: () => now.value })
  const refreshes: number[] = []
  const observed: SessionStore = {
    create: (k, v, ttl) => store.create(k, v, ttl),
    get: (k) => store.get(k),
    refresh: (k, v, ttl) => { refreshes.push(ttl); store.refresh(k, v, ttl) },
    delete: (k) => store.delete(k),
  }
  const { binder } = binderWith(observed, now, 100)
  await binder.open('s', ALICE)
  now.value += 9
  await binder.check('s', ALICE)
  t.same(refreshes, [], 'at 9 s of 100: not yet')
  now.value += 1
  await binder.check('s', ALICE)
  t.same(refreshes, [100], 'at 10 s: rewritten for another idleTtl')
  now.value += 9
  await binder.check('s', ALICE)
  t.same(refreshes, [100], 'counted from the rewrite')
  // Refreshed at most once per tenth, a record outlives the last use by 90 to 100 s.
  for (let i = 0; i < 5; i++) {
    now.value += 90
    await t.resolves(binder.check('s', ALICE), `used again after 90 s (${i + 1})`)
  }
  now.value += 100
  await refusal(t, binder.check('s', ALICE), { status: 404, reason: 'session.identity_mismatch' }, 'idle for idleTtl: gone')
})

t.test('binder: opening a session ID that is already bound', async (t) => {
  const now = { value: 1_000_000 }
  const store = new MemorySessionStore({ clock: () => now.value })
  const { binder, logs } = binderWith(store, now)
  await binder.open('s', ALICE)
  await t.resolves(binder.open('s', ALICE), 'by the same identity: fine')
  await refusal(t, binder.open('s', BOB), { status: 503, reason: 'session.conflict' }, 'by another identity')
  t.ok(logs.some((l) => l.level === 'error' && l.msg.includes('bound to another identity')))
  await t.resolves(binder.check('s', ALICE), 'the first binding stands')
})

t.test('binder: end removes the record', async (t) => {
  const now = { value: 1_000_000 }
  const store = new MemorySessionStore({ clock: () => now.value })
  const { binder } = binderWith(store, now)
  await binder.open('s', ALICE)
  await binder.end('s')
  t.equal(store.size, 0)
})

t.test('binder: every store failure is a 503 and an error log, never a pass', async (t) => {
  const now = { value: 1_000_000 }
  const fail = (): never => { throw new Error('down') }
  const reject = async (): Promise<never> => { throw new Error('down') }
  const cases: Array<[string, SessionStore, (b: ReturnType<typeof createSessionBinder>) => Promise<void>]> = [
    ['get throws', { create: () => true, get: fail, refresh: fail, delete: fail }, (b) => b.check('s', ALICE)],
    ['get rejects', { create: () => true, get: reject, refresh: fail, delete: fail }, (b) => b.check('s', ALICE)],
    ['refresh rejects', { create: () => true, get: () => `1 0 ${ALICE}`, refresh: reject, delete: fail }, (b) => b.check('s', ALICE)],
    ['create throws', { create: fail, get: fail, refresh: fail, delete: fail }, (b) => b.open('s', ALICE)],
    ['create answers no boolean', { create: () => 'OK' as never, get: () => undefined, refresh: fail, delete: fail }, (b) => b.open('s', ALICE)],
    ['get after a refused create rejects', { create: () => false, get: reject, refresh: fail, delete: fail }, (b) => b.open('s', ALICE)],
    ['delete rejects', { create: () => true, get: fail, refresh: fail, delete: reject }, (b) => b.end('s')],
  ]
  for (const [name, store, operation] of cases) {
    const { binder, logs } = binderWith(store, now)
    await refusal(t, operation(binder), { status: 503, reason: 'session_store.failed' }, name)
    t.ok(logs.some((l) => l.level === 'error' && l.msg.includes('session store failed')), `${name}: logged`)
  }
})

t.test('opensSession: an initialize request, alone or in a batch', async (t) => {
  t.ok(opensSession({ jsonrpc: '2.0', id: 1, method: 'initialize' }))
  t.ok(opensSession([{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 1, method: 'initialize' }]))
  t.notOk(opensSession({ jsonrpc: '2.0', id: 1, method: 'tools/list' }))
  t.notOk(opensSession([{ method: 'tools/list' }, null]))
  for (const other of [undefined, null, 'initialize', 42, {}]) t.notOk(opensSession(other), JSON.stringify(other) ?? 'undefined')
})
