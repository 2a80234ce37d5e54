// The in-memory store's records: kept for exactly their lifetime, however many
// come after them (oidc-provider's own LRU keeps 1000 to 2000 and forgets the
// rest), and swept once expired.
import t from 'tap'
import { ExpiringStorage } from '../../../lib/authorization-server/memory-storage.js'
import { createStore } from '../../../lib/authorization-server/store.js'

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a record lives its lifetime, expires after it, and unread expired records are swept', async (t) => {
  const storage = new ExpiringStorage()
  storage.set('forever', 1)
  storage.set('short', 2, { maxAge: 1 })
  storage.set('long', 3, { maxAge: 60_000 })
  await later(10)
  t.equal(storage.get('forever'), 1)
  t.equal(storage.get('long'), 3)
  t.equal(storage.get('short'), undefined, 'expired on read')
  for (let i = 0; i < 10; i++) storage.set(`gone-${i}`, i, { maxAge: 1 })
  await later(10)
  for (let i = 0; i < 1000; i++) storage.set(`live-${i}`, i, { maxAge: 60_000 })
  t.equal(storage.size, 1002, 'the expired records nobody read again were swept')
  storage.delete('forever')
  t.equal(storage.get('forever'), undefined)
})

t.test('the memory store forgets no refresh token, grant or replayed jti under load (oidc-provider\'s LRU would)', async (t) => {
  const store = createStore(undefined, { clientIdleTtl: undefined })
  const now = Math.floor(Date.now() / 1000)
  await store('Grant').upsert('g1', { iat: now, exp: now + 3600, accountId: 'a' }, 3600)
  await store('RefreshToken').upsert('r1', { grantId: 'g1', iat: now, exp: now + 3600 }, 3600)
  await store('ReplayDetection').upsert('jti-1', { iat: now, exp: now + 60 }, 60)
  // Five thousand proofs later (a few seconds of a busy token endpoint).
  for (let i = 0; i < 5000; i++) await store('ReplayDetection').upsert(`jti-${i + 2}`, { iat: now, exp: now + 60 }, 60)
  t.ok(await store('Grant').find('g1'), 'the grant')
  t.ok(await store('RefreshToken').find('r1'), 'the refresh token')
  t.ok(await store('ReplayDetection').find('jti-1'), 'the first jti: a replay is still refused')
})

t.test('a lost claim revokes the grant whole, its Grant record too; revokeByGrantId alone keeps the Grant record', async (t) => {
  const store = createStore(undefined, { clientIdleTtl: undefined })
  const now = Math.floor(Date.now() / 1000)
  await store('Grant').upsert('g1', { accountId: 'a', iat: now, exp: now + 3600 }, 3600)
  await store('RefreshToken').upsert('r1', { grantId: 'g1', iat: now, exp: now + 3600 }, 3600)
  await store('RefreshToken').consume('r1')
  t.equal(await store('RefreshToken').consume('r1').then(() => 'won', (err: { error?: string }) => err.error), 'invalid_grant', 'the reuse loses')
  // The winner of the race saving its rotated token afterwards: it names a grant that is gone.
  t.equal(await store('Grant').find('g1'), undefined, 'the Grant record is gone')
  t.equal(await store('RefreshToken').find('r1'), undefined)
  await store('Grant').upsert('g2', { accountId: 'a', iat: now, exp: now + 3600 }, 3600)
  await store('AccessToken').upsert('a2', { grantId: 'g2', iat: now, exp: now + 60 }, 60)
  await store('AccessToken').revokeByGrantId('g2')
  t.equal(await store('AccessToken').find('a2'), undefined)
  t.ok(await store('Grant').find('g2'), 'revokeByGrantId alone keeps the Grant record (oidc-provider decides about it)')
})
