// Refresh exactly once. In one process: concurrent calls share one refresh.
// Across processes sharing a Redis store: a lock (SET NX PX) held for the token
// request's timeout plus 5 s; the others wait for the newer token, and take
// over when the holder died. Against oidc-provider, whose refresh tokens rotate
// on every use and whose reuse detection revokes the whole grant.
import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { createMcpOAuthClient, memoryCredentialStore, redisCredentialStore } from '../../client.js'
import type { CredentialStore } from '../../client.js'
import { readCredential, refreshLockKey } from '../../lib/client/records.js'
import type { CredentialRecord } from '../../lib/client/records.js'
import { createRefresher } from '../../lib/client/refresh.js'
import { browse, startOidcServer } from '../helpers/oidc-provider.js'
import type { OidcServer, OidcServerOptions } from '../helpers/oidc-provider.js'
import { rpc, SCOPES, startMcpServer } from '../helpers/mcp-resource-server.js'
import type { McpServer } from '../helpers/mcp-resource-server.js'
import { connectIoredis, REDIS_SKIP, startRedis } from '../helpers/redis.js'
import type { RedisServer } from '../helpers/redis.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const REDIRECT_URI = 'http://127.0.0.1:9/callback'
const WORKER = fileURLToPath(new URL('fixtures/refresh-worker.ts', import.meta.url))

async function servers (t: Test): Promise<{ as: OidcServer, mcp: McpServer }> {
  const resources: OidcServerOptions['resources'] = []
  const as = await startOidcServer(t, { resources })
  const mcp = await startMcpServer(t, { issuer: as.issuer })
  resources.push({ uri: mcp.url, scopes: [...SCOPES] })
  return { as, mcp }
}

function client (store: CredentialStore, authorizations: { count: number } = { count: 0 }, dpop = false): ReturnType<typeof createMcpOAuthClient> {
  return createMcpOAuthClient({
    dpop: dpop ? { key: 'generate' } : false,
    clientMetadata: { client_name: 'refresh test' },
    redirectUri: REDIRECT_URI,
    authorize: async (url) => {
      authorizations.count++
      return await browse(url, REDIRECT_URI)
    },
    store,
  })
}

async function onlyCredential (store: CredentialStore): Promise<{ key: string, record: CredentialRecord }> {
  const [key] = await store.keys('cred:')
  const record = readCredential(await store.get(key ?? ''))
  if (key === undefined || record === undefined) throw new Error('no credential stored')
  return { key, record }
}

async function expire (store: CredentialStore): Promise<CredentialRecord> {
  const { key, record } = await onlyCredential(store)
  const expired = { ...record, expiresAt: 1 }
  await store.set(key, expired)
  return expired
}

const refreshes = (as: OidcServer): number => as.tokenRequests.filter((r) => r.grantType === 'refresh_token').length

t.test('20 parallel calls with an expired token → exactly one refresh request', async (t) => {
  const { as, mcp } = await servers(t)
  const inner = memoryCredentialStore()
  let locks = 0
  const store: CredentialStore = { ...inner, lock: async (key, ttl) => { locks++; return await inner.lock(key, ttl) } }
  const authorizations = { count: 0 }
  const oauth = client(store, authorizations)
  t.equal((await oauth.fetch(mcp.url, rpc('tools/list'))).status, 200)
  await expire(store)
  const responses = await Promise.all(Array.from({ length: 20 }, async () => await oauth.fetch(mcp.url, rpc('tools/list'))))
  t.same(responses.map((r) => r.status), Array(20).fill(200))
  t.equal(refreshes(as), 1, 'one refresh for twenty callers')
  t.equal(locks, 1, 'in one process the callers share one refresh: the store lock is asked for once')
  t.same(as.revokedGrants, [])
  t.equal(authorizations.count, 1)
})

t.test('the refresher: callers of one process share a refresh; a refresh done elsewhere is taken as is; a lock that never clears ends in a typed error', async (t) => {
  const store = memoryCredentialStore()
  const base: CredentialRecord = { kind: 'credential', rev: 'r1', issuer: 'i', clientId: 'c', resource: 'r', accessToken: 'a1', tokenType: 'bearer', expiresAt: 1, refreshToken: 'rt1', scope: undefined, requestedScope: undefined, dpopKey: undefined, updatedAt: 0 }
  await store.set('cred:k', base as never)
  const refresh = createRefresher({ store, lockTtl: 0.3, pollMs: 10 })
  let runs = 0
  const run = async (latest: CredentialRecord): Promise<CredentialRecord> => {
    runs++
    await new Promise((resolve) => setTimeout(resolve, 20))
    return { ...latest, rev: `r${runs + 1}`, accessToken: `a${runs + 1}` }
  }
  const results = await Promise.all(Array.from({ length: 5 }, async () => await refresh('cred:k', base, run)))
  t.equal(runs, 1)
  t.same(results.map((r) => r?.accessToken), Array(5).fill('a2'))
  t.equal(readCredential(await store.get('cred:k'))?.rev, 'r2', 'written to the store')

  // Seen an old revision: the store already has a newer one, no token request.
  t.equal((await refresh('cred:k', base, run))?.accessToken, 'a2')
  t.equal(runs, 1)

  // A dead refresh token: the credential is deleted.
  const current = readCredential(await store.get('cred:k')) as CredentialRecord
  t.equal(await refresh('cred:k', current, async () => undefined), undefined)
  t.equal(await store.get('cred:k'), undefined)

  // Another holder keeps the lock and never writes: the waiter gives up after the lock's lifetime.
  await store.set('cred:k', current as never)
  const held = await store.lock(refreshLockKey('cred:k'), 60)
  t.ok(held)
  await t.rejects(refresh('cred:k', current, run), { name: 'McpClientError', code: 'FST_MCP_CLIENT_TOKEN', reason: 'token.refresh_lock_timeout' })
  // …but sees a record written meanwhile.
  setTimeout(() => { store.set('cred:k', { ...current, rev: 'other' } as never).catch(() => {}) }, 50)
  t.equal((await refresh('cred:k', current, run))?.rev, 'other')
  await held?.release()
  // A failing refresh releases the lock and rejects.
  await t.rejects(refresh('cred:k', { ...current, rev: 'other' }, async () => { throw new Error('network down') }), { message: 'network down' })
  t.ok(await store.lock(refreshLockKey('cred:k'), 1), 'the lock was released')
})

interface Worker { child: ChildProcessWithoutNullStreams, lines: AsyncIterator<string> }

function startWorker (t: Test, env: Record<string, string>): Worker {
  // A plain second process: env(1) drops what tap's spawn hook adds (NODE_OPTIONS,
  // NODE_V8_COVERAGE), so the worker's tsx-compiled copy of the sources stays out of
  // this run's coverage.
  const child = spawn('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, '--import', 'tsx', WORKER], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  child.once('exit', (code, signal) => { if (code !== 0 && signal === null) t.comment(`worker exited ${code}: ${stderr}`) })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() }
}

async function nextLine (worker: Worker): Promise<string> {
  const { value, done } = await worker.lines.next()
  if (done === true) throw new Error('the worker ended without output')
  return value
}

interface Shared { redis: RedisServer, encryptionKey: string, store: CredentialStore }

async function sharedStore (t: Test): Promise<Shared> {
  const redis = await startRedis(t)
  const encryptionKey = randomBytes(32).toString('base64url')
  const store = redisCredentialStore(await connectIoredis(t, redis), { encryptionKey })
  return { redis, encryptionKey, store }
}

t.test('two processes sharing a Redis store, one expired token, rotating refresh tokens: one refresh, both calls succeed, no reuse detected', { skip: REDIS_SKIP }, async (t) => {
  const { as, mcp } = await servers(t)
  const shared = await sharedStore(t)
  t.equal((await client(shared.store).fetch(mcp.url, rpc('tools/list'))).status, 200, 'signed in once, in this process')
  const before = await expire(shared.store)
  // Each token request is held back 2 s: both workers read the expired credential before either could write a new one.
  const env = { REDIS_PORT: String(shared.redis.port), ENCRYPTION_KEY: shared.encryptionKey, MCP_URL: mcp.url, REDIRECT_URI, SLOW_TOKEN: '2000', TIMEOUT: '10' }
  const workers = [startWorker(t, env), startWorker(t, env)]
  // Both are started; release them together.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  for (const worker of workers) worker.child.stdin.write('go\n')
  const outcomes = await Promise.all(workers.map(async (w) => JSON.parse(await nextLine(w)) as { status?: number, error?: unknown }))
  t.same(outcomes.map((o) => o.status ?? o.error), [200, 200], 'both processes got their answer')
  t.equal(refreshes(as), 1, 'the refresh token was sent once')
  t.same(as.tokenRequests.filter((r) => !r.ok), [], 'no failed token request')
  t.same(as.revokedGrants, [], 'reuse detection never tripped: the grant lives')
  const after = (await onlyCredential(shared.store)).record
  t.not(after.refreshToken, before.refreshToken, 'the rotated refresh token is what the store holds')
  // The stored refresh token is the live one: refreshing again works.
  await expire(shared.store)
  t.equal((await client(shared.store).fetch(mcp.url, rpc('tools/list'))).status, 200)
  t.equal(refreshes(as), 2)
  t.same(as.revokedGrants, [])
})

t.test('a lock holder killed mid-refresh blocks the others no longer than the lock lives (token timeout + 5 s)', { skip: REDIS_SKIP }, async (t) => {
  const { as, mcp } = await servers(t)
  const shared = await sharedStore(t)
  t.equal((await client(shared.store).fetch(mcp.url, rpc('tools/list'))).status, 200)
  await expire(shared.store)
  const holder = startWorker(t, { REDIS_PORT: String(shared.redis.port), ENCRYPTION_KEY: shared.encryptionKey, MCP_URL: mcp.url, REDIRECT_URI, HANG_TOKEN: '1', TIMEOUT: '1' })
  holder.child.stdin.write('go\n')
  t.equal(await nextLine(holder), 'at-token', 'the holder took the lock and sent its refresh')
  const { key } = await onlyCredential(shared.store)
  t.equal(await shared.store.lock(refreshLockKey(key), 1), undefined, 'the lock is held')
  const killed = new Promise((resolve) => holder.child.once('exit', resolve))
  holder.child.kill('SIGKILL')
  await killed

  // This process waits out the dead holder's lock (1 s timeout + 5 s) and refreshes itself.
  const waiter = createMcpOAuthClient({
    clientMetadata: { client_name: 'refresh test' },
    redirectUri: REDIRECT_URI,
    authorize: async () => { throw new Error('no authorization expected') },
    store: shared.store,
    timeout: 1,
  })
  const response = await waiter.fetch(mcp.url, rpc('tools/list'))
  t.equal(response.status, 200, 'the waiter got through')
  t.equal(refreshes(as), 1, 'one refresh reached the authorization server (the holder\'s never left)')
  t.same(as.revokedGrants, [])
})

t.test('a restarted process refreshes a DPoP-bound refresh token with the key it reads, encrypted, from Redis', { skip: REDIS_SKIP }, async (t) => {
  const { as, mcp } = await servers(t)
  const shared = await sharedStore(t)
  const first = await client(shared.store, { count: 0 }, true).fetch(mcp.url, rpc('tools/list'))
  const jkt = ((await first.json()) as { result: { sender: { jkt: string } } }).result.sender.jkt
  t.ok(jkt, 'a DPoP-bound token')
  await expire(shared.store)
  const worker = startWorker(t, { REDIS_PORT: String(shared.redis.port), ENCRYPTION_KEY: shared.encryptionKey, MCP_URL: mcp.url, REDIRECT_URI, DPOP: '1' })
  worker.child.stdin.write('go\n')
  const outcome = JSON.parse(await nextLine(worker)) as { status?: number, body?: { result: { sender: { binding: string, jkt: string } } }, error?: unknown }
  t.equal(outcome.status, 200, JSON.stringify(outcome.error ?? ''))
  t.same(outcome.body?.result.sender, { binding: 'dpop', jkt }, 'the new process proved possession of the same key')
  t.same(as.tokenRequests.map((r) => [r.grantType, r.ok]), [['authorization_code', true], ['refresh_token', true]], 'the bound refresh token was accepted')
})
