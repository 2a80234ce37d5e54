// MemoryReplayStore (RFC 9449 §11.1 jti tracking; EDGE-16), driven by an injected clock.
import t from 'tap'
import { MemoryReplayStore } from '../../lib/stores/memory-replay-store.js'
import { ReplayStoreFullError } from '../../lib/stores/replay-store.js'

const T0 = 1_700_000_000

function clockAt (start: number): { now: number, clock: () => number } {
  const state = { now: start, clock: () => state.now }
  return state
}

// Keys as the plugin passes them: 43-character base64url hashes.
const key = (n: number): string => `key-${n}-`.padEnd(43, 'x')

t.test('RFC 9449 §11.1: the first claim of a key is true, a second claim is false (a replay)', async (t) => {
  const store = new MemoryReplayStore({ clock: clockAt(T0).clock })
  t.equal(store.claim(key(1), 300), true)
  t.equal(store.claim(key(1), 300), false)
  t.equal(store.claim(key(2), 300), true, 'other keys are independent')
  t.equal(store.size, 2)
})

t.test('EDGE-16: a key stays recorded for its whole ttl, and expiry frees it', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ clock: time.clock })
  t.equal(store.claim(key(1), 301), true)
  time.now = T0 + 290
  t.equal(store.claim(key(1), 301), false, 'a replay at iat + 290 s is still caught')
  time.now = T0 + 300
  t.equal(store.claim(key(1), 301), false, 'and at the last second of the ttl')
  time.now = T0 + 301
  t.equal(store.claim(key(1), 301), true, 'free once the ttl has passed')
  t.equal(store.claim(key(1), 301), false, 'and recorded again')
})

t.test('a fractional or zero ttl still records the key for at least a second', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ clock: time.clock })
  t.equal(store.claim(key(1), 0), true)
  t.equal(store.claim(key(1), 0), false)
  t.equal(store.claim(key(2), 0.2), true)
  t.equal(store.claim(key(2), 0.2), false)
  time.now = T0 + 1
  t.equal(store.claim(key(1), 0), true)
})

t.test('expired entries are swept on later claims; live entries are never swept', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ clock: time.clock })
  for (let i = 0; i < 10; i++) store.claim(key(i), 5)
  store.claim(key(100), 1000)
  t.equal(store.size, 11)
  time.now = T0 + 10
  for (let i = 200; i < 205; i++) store.claim(key(i), 1000)
  t.equal(store.size, 6, 'the 10 expired entries are gone after a few claims')
  t.equal(store.claim(key(100), 1000), false, 'the live entry survived the sweep')
  for (let i = 200; i < 205; i++) t.equal(store.claim(key(i), 1000), false)
})

t.test('EDGE-16: a full store throws ReplayStoreFullError (→ 503) instead of forgetting; replays are still caught', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ maxEntries: 2, clock: time.clock })
  t.equal(store.claim(key(1), 10), true)
  t.equal(store.claim(key(2), 20), true)
  const err = t.throws(() => store.claim(key(3), 10))
  t.ok(err instanceof ReplayStoreFullError)
  t.equal((err as ReplayStoreFullError).code, 'FST_MCP_AUTH_REPLAY_STORE_FULL')
  t.match((err as Error).message, /2 live entries/)
  t.equal(store.claim(key(1), 10), false, 'a replay is still a replay when the store is full')
  t.equal(store.size, 2)
  time.now = T0 + 10
  t.equal(store.claim(key(3), 10), true, 'room again once an entry expired (full sweep)')
  t.equal(store.claim(key(2), 20), false, 'the live entry was kept')
})

t.test('maxEntries must be a positive safe integer', async (t) => {
  for (const maxEntries of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10' as unknown as number]) {
    t.throws(() => new MemoryReplayStore({ maxEntries }), TypeError, String(maxEntries))
  }
  t.equal(new MemoryReplayStore({ maxEntries: 1 }).maxEntries, 1)
  t.equal(new MemoryReplayStore().maxEntries, 1_000_000, 'default')
})

t.test('close() forgets everything', async (t) => {
  const store = new MemoryReplayStore({ clock: clockAt(T0).clock })
  store.claim(key(1), 300)
  store.close()
  t.equal(store.size, 0)
  t.equal(store.claim(key(1), 300), true)
})

t.test('ReplayStore contract: distinct keys are distinct, whatever their length (a user-supplied key)', async (t) => {
  const store = new MemoryReplayStore({ clock: clockAt(T0).clock })
  const prefix = 'tenant-a:client-b:jti-'
  t.equal(store.claim(prefix + '0001', 300), true)
  t.equal(store.claim(prefix + '0002', 300), true, 'a different jti sharing a long prefix is not a replay')
})

// Where each check sits: entries are kept in insertion order and swept from the oldest end
// a few at a time, stopping at the first live one; the tests below put a live entry in
// front so that a later entry's own expiry check, or the full sweep, is what decides.
t.test('a claim sweeps at most four expired entries from the oldest end, those expiring this second included', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ clock: time.clock })
  for (let i = 0; i < 10; i++) store.claim(key(i), 5)
  time.now = T0 + 5
  t.equal(store.claim(key(100), 1000), true)
  t.equal(store.size, 7, '10 expired entries, 4 swept, 1 added')
  t.equal(store.claim(key(101), 1000), true)
  t.equal(store.size, 4, '4 more swept')
})

t.test('an expired entry behind a live one is free again at the second it expires', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ clock: time.clock })
  store.claim(key(0), 1000) // live, oldest: the sweep stops here
  store.claim(key(1), 5)
  time.now = T0 + 4
  t.equal(store.claim(key(1), 5), false, 'a replay in its last second')
  time.now = T0 + 5
  t.equal(store.claim(key(1), 5), true, 'expired at T0 + 5: recorded afresh')
  t.equal(store.claim(key(1), 5), false)
  t.equal(store.size, 2)
})

t.test('a full store makes room by sweeping expired entries behind live ones, those expiring this second included', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ maxEntries: 2, clock: time.clock })
  store.claim(key(0), 1000)
  store.claim(key(1), 5)
  time.now = T0 + 5
  t.equal(store.claim(key(2), 10), true, 'key 1 expired this second: its place is free')
  t.equal(store.size, 2)
  t.throws(() => store.claim(key(3), 10), ReplayStoreFullError, 'full of live entries again')
})

t.test('the full sweep looks at the oldest 1024 entries only (a full store does not cost a scan of every entry)', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ maxEntries: 1025, clock: time.clock })
  for (let i = 0; i < 1024; i++) store.claim(key(i), 1000)
  store.claim(key(5000), 5) // the 1025th entry
  time.now = T0 + 10
  t.throws(() => store.claim(key(5001), 10), ReplayStoreFullError, 'the expired entry is past the sweep')
  t.equal(store.size, 1025)
})

t.test('a wrong maxEntries is a TypeError that names the store', async (t) => {
  t.throws(() => new MemoryReplayStore({ maxEntries: 0 }), { name: 'TypeError', message: 'MemoryReplayStore maxEntries must be a positive integer; got 0' })
})

t.test('a key claimed again after it expired moves to the newest end (the sweep from the oldest end keeps working)', async (t) => {
  const time = clockAt(T0)
  const store = new MemoryReplayStore({ clock: time.clock })
  store.claim(key(0), 10) // oldest
  store.claim(key(1), 5)
  store.claim(key(2), 6)
  time.now = T0 + 5
  t.equal(store.claim(key(1), 100), true, 'key 1 expired: recorded afresh, now the newest')
  time.now = T0 + 10
  t.equal(store.claim(key(3), 100), true)
  t.equal(store.size, 2, 'keys 0 and 2 swept from the oldest end, up to key 1')
})
