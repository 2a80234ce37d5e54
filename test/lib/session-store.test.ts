// MemorySessionStore: create only when absent, get, refresh only what exists,
// delete; idle expiry on the injected clock; bounded, evicting the least recently
// used record (a record read is recently used).
import t from 'tap'
import { MemorySessionStore } from '../../lib/stores/memory-session-store.js'

t.test('create records only when the key holds no live record', async (t) => {
  const now = { value: 1000 }
  const store = new MemorySessionStore({ clock: () => now.value })
  t.equal(store.create('k', 'first', 60), true)
  t.equal(store.create('k', 'second', 60), false, 'a live record stays')
  t.equal(store.get('k'), 'first')
  now.value += 60
  t.equal(store.get('k'), undefined, 'expired after its ttl')
  t.equal(store.create('k', 'third', 60), true, 'an expired record can be replaced')
  t.equal(store.get('k'), 'third')
})

t.test('refresh replaces a live record and restarts its expiry; it never creates one', async (t) => {
  const now = { value: 1000 }
  const store = new MemorySessionStore({ clock: () => now.value })
  store.refresh('missing', 'v', 60)
  t.equal(store.get('missing'), undefined, 'nothing to refresh: nothing created')
  store.create('k', 'v1', 60)
  now.value += 59
  store.refresh('k', 'v2', 60)
  now.value += 59
  t.equal(store.get('k'), 'v2', 'alive 118 s after creation thanks to the refresh')
  now.value += 1
  store.refresh('k', 'v3', 60)
  t.equal(store.get('k'), undefined, 'an expired record is not brought back')
  t.equal(store.size, 0, 'and is dropped')
})

t.test('delete and close', async (t) => {
  const store = new MemorySessionStore()
  store.create('a', 'v', 60)
  store.create('b', 'v', 60)
  store.delete('a')
  t.equal(store.get('a'), undefined)
  t.equal(store.size, 1)
  store.close()
  t.equal(store.size, 0)
})

t.test('bounded: the least recently used record goes first', async (t) => {
  const store = new MemorySessionStore({ maxEntries: 2 })
  t.equal(store.maxEntries, 2)
  store.create('a', 'A', 60)
  store.create('b', 'B', 60)
  store.get('a')
  store.create('c', 'C', 60)
  t.equal(store.size, 2)
  t.equal(store.get('b'), undefined, 'b was the least recently used')
  t.equal(store.get('a'), 'A', 'a was read, so it stayed')
  t.equal(store.get('c'), 'C')
  t.equal(new MemorySessionStore().maxEntries, 100_000, 'default 100000')
})

t.test('maxEntries must be a positive integer', async (t) => {
  for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
    t.throws(() => new MemorySessionStore({ maxEntries: bad as number }), /maxEntries must be a positive integer/)
  }
})
