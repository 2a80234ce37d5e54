// lib/health.ts without a server: 200 only when every key set is usable, the
// replay and session stores answer and a co-hosted authorization server's store is reachable.
import t from 'tap'
import { FetchFailure } from '../../lib/fetch-failure.js'
import { checkHealth, pingStore } from '../../lib/health.js'
import type { HealthInput } from '../../lib/health.js'

const base: HealthInput = { keySets: [], nowMs: 100_000, maxAgeMs: 10_000, staleIfErrorMs: 20_000, replayStore: undefined, sessionStore: undefined, timeoutMs: 50, authorizationServer: undefined }
const keySet = (fetchedAt: number | undefined, cause?: string) => ({ issuer: 'https://as.example', uri: 'https://as.example/jwks', fetchedAt, cause } as HealthInput['keySets'][number])

t.test('key sets: fresh within maxAge, usable within maxAge + staleIfError, never fetched is not ready', async (t) => {
  const ok = await checkHealth({ ...base, keySets: [keySet(95_000)] })
  t.equal(ok.statusCode, 200)
  t.same(ok.body.jwks, [{ issuer: 'https://as.example', uri: 'https://as.example/jwks', ageSeconds: 5, fresh: true, usable: true, cause: undefined }])
  const stale = await checkHealth({ ...base, keySets: [keySet(75_000, 'http_500')] })
  t.equal(stale.statusCode, 200, 'stale but usable')
  t.same(stale.body.jwks[0], { issuer: 'https://as.example', uri: 'https://as.example/jwks', ageSeconds: 25, fresh: false, usable: true, cause: 'http_500' })
  const gone = await checkHealth({ ...base, keySets: [keySet(95_000), keySet(69_000, 'timeout')] })
  t.equal(gone.statusCode, 503, 'one key set past staleIfError')
  t.equal(gone.body.status, 'unavailable')
  const never = await checkHealth({ ...base, keySets: [keySet(undefined, 'dns')] })
  t.equal(never.statusCode, 503)
  t.same(never.body.jwks[0], { issuer: 'https://as.example', uri: 'https://as.example/jwks', ageSeconds: undefined, fresh: false, usable: false, cause: 'dns' })
})

t.test('replay store: pinged; no ping() is "cannot tell" (null), not a failure', async (t) => {
  t.same((await checkHealth({ ...base, replayStore: { claim: () => true, ping: () => {} } })).body.replayStore, { reachable: true })
  t.same((await checkHealth({ ...base, replayStore: { claim: () => true } })).body.replayStore, { reachable: null })
  t.equal((await checkHealth({ ...base, replayStore: { claim: () => true } })).statusCode, 200)
  const down = await checkHealth({ ...base, replayStore: { claim: () => true, ping: async () => { throw new FetchFailure('offline', 'no connection') } } })
  t.equal(down.statusCode, 503)
  t.same(down.body.replayStore, { reachable: false, cause: 'offline' })
  t.same(await pingStore({ ping: () => new Promise(() => {}) }, 20), { reachable: false, cause: 'timeout' }, 'a ping that never answers times out')
  t.same(await pingStore({ ping: () => { throw new Error('sync') } }, 20), { reachable: false, cause: 'failed' }, 'a synchronous throw')
})

t.test('session store: pinged like the replay store; down is 503', async (t) => {
  const session = { create: () => true, get: () => undefined, refresh: () => {}, delete: () => {} }
  t.same((await checkHealth({ ...base, sessionStore: { ...session, ping: () => {} } })).body.sessionStore, { reachable: true })
  t.same((await checkHealth({ ...base, sessionStore: session })).body.sessionStore, { reachable: null })
  const down = await checkHealth({ ...base, sessionStore: { ...session, ping: async () => { throw new FetchFailure('offline', 'no connection') } } })
  t.equal(down.statusCode, 503)
  t.same(down.body.sessionStore, { reachable: false, cause: 'offline' })
})

t.test('a co-hosted authorization server whose store is unreachable makes the plugin unavailable too', async (t) => {
  t.equal((await checkHealth({ ...base, authorizationServer: { store: { reachable: true } } })).statusCode, 200)
  const down = await checkHealth({ ...base, authorizationServer: { store: { reachable: false }, keys: { count: 1 } } })
  t.equal(down.statusCode, 503)
  t.same(down.body.authorizationServer, { store: { reachable: false }, keys: { count: 1 } })
})
