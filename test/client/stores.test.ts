// Credential stores: the memory store's copies, expiry, single-use take and
// lock; the Redis store through both supported clients against a real
// redis-server, encrypted at rest with AES-256-GCM (key ID stored, rotation,
// a wrong key or a tampered or moved record reads as absent and is reported).
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { memoryCredentialStore, redisCredentialStore } from '../../client.js'
import type { CredentialStore, UnreadableRecord } from '../../client.js'
import { createKeyring } from '../../lib/client/stores/encryption.js'
import { connectIoredis, connectNodeRedis, REDIS_SKIP, startRedis } from '../helpers/redis.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const key32 = (): Buffer => randomBytes(32)

/** The contract every store keeps, run against each of them. */
async function contract (t: Test, store: CredentialStore): Promise<void> {
  const record = { kind: 'credential', accessToken: 'secret-token', nested: { list: [1, 2] } }
  t.equal(await store.get('cred:a:1'), undefined, 'absent')
  await store.set('cred:a:1', record)
  t.same(await store.get('cred:a:1'), record, 'read back')
  await store.set('cred:a:2', { kind: 'x' }, 60)
  await store.set('other:1', { kind: 'y' })
  t.same((await store.keys('cred:a:')).sort(), ['cred:a:1', 'cred:a:2'], 'keys by prefix')
  t.same(await store.keys('cred:[*?]'), [], 'glob characters in a prefix are literal')
  await store.set('short', { kind: 'z' }, 0.05)
  await sleep(120)
  t.equal(await store.get('short'), undefined, 'expired')
  t.same(await store.take('cred:a:2'), { kind: 'x' }, 'take returns the record…')
  t.equal(await store.get('cred:a:2'), undefined, '…and removes it')
  t.equal(await store.take('cred:a:2'), undefined, 'a second take gets nothing')
  const [a, b] = await Promise.all([store.take('cred:a:1'), store.take('cred:a:1')])
  t.ok((a === undefined) !== (b === undefined), 'of two concurrent takes exactly one wins')
  await store.set('gone', { kind: 'g' })
  await store.delete('gone')
  t.equal(await store.get('gone'), undefined, 'deleted')

  const lock = await store.lock('refresh:x', 5)
  t.ok(lock, 'a free lock is acquired')
  t.equal(await store.lock('refresh:x', 5), undefined, 'a held lock is refused')
  await lock?.release()
  const again = await store.lock('refresh:x', 0.05)
  t.ok(again, 'released → acquirable')
  await sleep(120)
  const third = await store.lock('refresh:x', 5)
  t.ok(third, 'an expired lock is free')
  await again?.release()
  t.equal(await store.lock('refresh:x', 5), undefined, 'releasing an expired lock does not free its new holder')
  await third?.release()
}

t.test('memoryCredentialStore keeps the contract, and hands out copies', async (t) => {
  const store = memoryCredentialStore()
  await contract(t, store)
  const record = { kind: 'c', list: [1] }
  await store.set('k', record)
  record.list.push(2)
  const read = await store.get('k')
  t.same(read, { kind: 'c', list: [1] }, 'later changes to the caller\'s object do not reach the store')
  t.ok(Object.isFrozen(read))
  // Many writes sweep expired entries.
  for (let i = 0; i < 300; i++) await store.set(`tmp:${i}`, { i }, 0.001)
  await sleep(5)
  for (let i = 0; i < 300; i++) await store.set(`tmp2:${i}`, { i })
  t.same(await store.keys('tmp:'), [], 'expired entries are gone')
})

t.test('encryption: AES-256-GCM with the key ID, rotation, and refusals', async (t) => {
  const current = key32()
  const previous = key32()
  const old = createKeyring(previous)
  const ring = createKeyring({ current, previous: [previous] })
  const sealed = ring.seal('{"a":1}', 'cred:1')
  t.match(sealed, /^v1\.[\w-]{12}\.[\w-]{16}\.[\w-]+$/, 'v1.<key id>.<iv>.<ciphertext+tag>')
  t.notOk(sealed.includes('"a"'), 'no plaintext in the envelope')
  t.same(ring.open(sealed, 'cred:1'), { ok: true, plaintext: '{"a":1}', keyId: ring.currentKeyId })
  t.same(ring.open(old.seal('{"b":2}', 'cred:2'), 'cred:2'), { ok: true, plaintext: '{"b":2}', keyId: old.currentKeyId }, 'a record sealed with the previous key still opens')
  t.equal(ring.open(sealed, 'cred:other').ok, false, 'moved under another store key: does not open')
  t.same(createKeyring(key32()).open(sealed, 'cred:1'), { ok: false, failure: 'unknown_key', keyId: ring.currentKeyId })
  const [v, id, iv, body] = sealed.split('.') as [string, string, string, string]
  const flipped = `${v}.${id}.${iv}.${body.slice(0, -2)}${body.at(-2) === 'A' ? 'B' : 'A'}${body.at(-1)}`
  t.equal(ring.open(flipped, 'cred:1').ok, false, 'a tampered ciphertext does not open')
  t.same(ring.open('garbage', 'k'), { ok: false, failure: 'corrupt', keyId: undefined })
  t.same(ring.open(`v1.${id}.short.x`, 'k'), { ok: false, failure: 'corrupt', keyId: id })
  t.equal(createKeyring(current.toString('hex')).currentKeyId, createKeyring(current).currentKeyId, 'hex and bytes name the same key')
  t.equal(createKeyring(current.toString('base64url')).currentKeyId, createKeyring(current).currentKeyId, 'base64url too')
  t.equal(createKeyring({ current, previous }).currentKeyId, ring.currentKeyId, 'previous may be one key')
  for (const bad of [undefined, null, 'short', Buffer.alloc(16), 42, { current: Buffer.alloc(31) }, { current, previous: ['x'] }]) {
    t.throws(() => createKeyring(bad), { code: 'FST_MCP_AUTH_INVALID_OPTION' }, `refused: ${typeof bad === 'object' && bad !== null ? JSON.stringify(Object.keys(bad)) : String(bad)}`)
  }
  t.throws(() => createKeyring('x'.repeat(20)), { message: /got a string of 20 characters/ }, 'the message never echoes the key')
})

t.test('redisCredentialStore', { skip: REDIS_SKIP }, async (t) => {
  const server = await startRedis(t)

  for (const kind of ['ioredis', 'node-redis'] as const) {
    t.test(`keeps the contract through ${kind}`, async (t) => {
      const client = kind === 'ioredis' ? await connectIoredis(t, server) : await connectNodeRedis(t, server)
      await contract(t, redisCredentialStore(client, { encryptionKey: key32(), prefix: `contract:${kind}:` }))
    })
  }

  t.test('records are encrypted at rest; a wrong key, a retired key or a moved record reads as absent and is reported', async (t) => {
    const client = await connectIoredis(t, server)
    const events: UnreadableRecord[] = []
    const keyA = key32()
    const store = redisCredentialStore(client, { encryptionKey: keyA, prefix: 'enc:', onUnreadable: (e) => events.push(e) })
    await store.set('cred:1', { kind: 'credential', accessToken: 'at-very-secret', refreshToken: 'rt-very-secret' })
    const raw = await client.get('enc:cred:1')
    t.notOk(raw?.includes('very-secret'), 'no token in Redis')
    t.match(raw, /^v1\./)

    const wrong = redisCredentialStore(client, { encryptionKey: key32(), prefix: 'enc:', onUnreadable: (e) => events.push(e) })
    t.equal(await wrong.get('cred:1'), undefined, 'another key → no credential')
    t.same(events.at(-1), { key: 'cred:1', failure: 'unknown_key', keyId: createKeyring(keyA).currentKeyId })

    await client.set('enc:cred:2', raw as string)
    t.equal(await store.get('cred:2'), undefined, 'copied under another key → no credential')
    t.equal(events.at(-1)?.failure, 'corrupt')

    const rotated = redisCredentialStore(client, { encryptionKey: { current: key32(), previous: keyA }, prefix: 'enc:' })
    t.same(await rotated.get('cred:1'), { kind: 'credential', accessToken: 'at-very-secret', refreshToken: 'rt-very-secret' }, 'rotation: the previous key still reads')
    await rotated.set('cred:1', { kind: 'credential', accessToken: 'new' })
    t.equal(await store.get('cred:1'), undefined, 'rewritten with the new key: the old key alone no longer reads it')

    // The default report is a process warning with a code, never the record.
    const warnings: Error[] = []
    const onWarning = (w: Error): void => { warnings.push(w) }
    process.on('warning', onWarning)
    t.teardown(() => { process.off('warning', onWarning) })
    const quiet = redisCredentialStore(client, { encryptionKey: key32(), prefix: 'enc:' })
    t.equal(await quiet.get('cred:1'), undefined)
    await sleep(10)
    t.equal((warnings.at(-1) as Error & { code?: string })?.code, 'FST_MCP_CLIENT_STORE_UNREADABLE')
    t.notOk(warnings.at(-1)?.message.includes('new'), 'the warning names the key, not the content')
    const throwing = redisCredentialStore(client, { encryptionKey: key32(), prefix: 'enc:', onUnreadable: () => { throw new Error('logger down') } })
    t.equal(await throwing.get('cred:1'), undefined, 'a throwing reporter changes nothing')
  })

  t.test('construction refuses what cannot work; a dead Redis is a store error, never a credential', async (t) => {
    const client = await connectIoredis(t, server)
    t.throws(() => redisCredentialStore(client, undefined as never), { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /encryptionKey/ })
    t.throws(() => redisCredentialStore(client, {} as never), { message: /encryptionKey is required/ })
    t.throws(() => redisCredentialStore(client, { encryptionKey: key32(), prefix: 1 as never }), { message: /prefix must be a string/ })
    t.throws(() => redisCredentialStore(client, { encryptionKey: key32(), onUnreadable: 'x' as never }), { message: /onUnreadable must be a function/ })
    t.throws(() => redisCredentialStore({} as never, { encryptionKey: key32() }), { code: 'FST_MCP_AUTH_INVALID_OPTION', message: /redisCredentialStore client must be/ })
    const odd = redisCredentialStore({ call: async () => 42 } as never, { encryptionKey: key32() })
    await t.rejects(odd.get('x'), { name: 'McpClientError', code: 'FST_MCP_CLIENT_STORE' }, 'an unexpected reply type')
    await t.rejects(odd.set('x', {}), { name: 'McpClientError', code: 'FST_MCP_CLIENT_STORE' })
    await t.rejects(odd.lock('x', 1), { name: 'McpClientError', code: 'FST_MCP_CLIENT_STORE' })
    await t.rejects(odd.keys('x'), { name: 'McpClientError', code: 'FST_MCP_CLIENT_STORE' })
    const dead = redisCredentialStore({ call: async () => { throw new Error('ECONNREFUSED') } } as never, { encryptionKey: key32() })
    await t.rejects(dead.get('x'), { name: 'McpClientError', code: 'FST_MCP_CLIENT_STORE', message: /GET failed/ })
  })
})
