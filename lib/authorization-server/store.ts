// The storage oidc-provider gets: the user's adapter factory (redisAdapter) or
// oidc-provider's in-process memory adapter on storage of ours that forgets
// nothing before its time (memory-storage.ts), with three rules of ours on top:
// a store failure is 503 temporarily_unavailable whatever store it is, single
// use is claimed atomically in memory too (two requests in one process
// interleave at every await), and dynamically registered clients expire after
// `idleTtl` seconds without use.
// oidc-provider does not export its memory adapter from the package root.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js'
import { ExpiringStorage } from './memory-storage.js'
import type { AdapterFactory, AdapterPayload, ProviderAdapter } from './provider-types.js'
import { errors } from 'oidc-provider'
import { lostClaim, unavailable } from './redis-adapter.js'

export interface StoreOptions {
  /** Seconds an unused dynamic registration lives; undefined: forever. */
  readonly clientIdleTtl: number | undefined
}

// A claim lives until replay detection's own save replaces it with the real expiry.
const REPLAY_CLAIM_TTL = 3600

function epoch (): number {
  return Math.floor(Date.now() / 1000)
}

// The memory adapter hands out its live records: checking and marking in one
// synchronous step after the lookup is the whole claim. The loser of a claim revokes
// the grant whole, its Grant record too (`destroyGrant`), as redisAdapter does.
function atomicMemoryAdapter (inner: ProviderAdapter, model: string, destroyGrant: (grantId: string) => Promise<void>): ProviderAdapter {
  return Object.assign(Object.create(inner) as ProviderAdapter, {
    async consume (id: string): Promise<void> {
      const stored = await inner.find(id)
      if (stored !== undefined && stored.consumed === undefined) {
        stored.consumed = epoch()
        return
      }
      throw await lostClaim(model, stored, async (grantId) => {
        await Promise.all([inner.revokeByGrantId(grantId), destroyGrant(grantId)])
      })
    },
    async find (id: string): Promise<AdapterPayload | undefined> {
      if (model === 'ReplayDetection') return await claim(inner, id)
      const stored = await inner.find(id)
      // A copy: oidc-provider must not mutate the stored record (its consumed flag least of all).
      return stored === undefined ? undefined : { ...stored }
    },
  })
}

// Replay detection asks find, then saves; here the find itself claims the id.
// The memory adapter reads and writes its map synchronously inside each call,
// so the read and the claim below happen in one step: of two requests with one
// `jti`, exactly one sees nothing there. Overwriting a record that was there
// changes nothing (its presence is the answer).
async function claim (inner: ProviderAdapter, id: string): Promise<AdapterPayload | undefined> {
  const before = inner.find(id)
  const now = epoch()
  const claimed = inner.upsert(id, { jti: id, kind: 'ReplayDetection', iat: now, exp: now + REPLAY_CLAIM_TTL }, REPLAY_CLAIM_TTL)
  const [stored] = await Promise.all([before, claimed])
  return stored === undefined ? undefined : { ...stored }
}

// Each use of a client pushes its expiry out again; at most one write per
// tenth of the idle time per process, so busy clients cost no write per request.
function idleExpiringClients (inner: ProviderAdapter, idleTtl: number): ProviderAdapter {
  const touched = new Map<string, number>()
  const touch = async (id: string, payload: AdapterPayload): Promise<void> => {
    const now = Date.now()
    if ((touched.get(id) ?? 0) > now - idleTtl * 100) return
    if (touched.size > 10_000) touched.clear()
    touched.set(id, now)
    await inner.upsert(id, payload, idleTtl)
  }
  return Object.assign(Object.create(inner) as ProviderAdapter, {
    async upsert (id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
      touched.set(id, Date.now())
      await inner.upsert(id, payload, expiresIn ?? idleTtl)
    },
    async find (id: string): Promise<AdapterPayload | undefined> {
      const payload = await inner.find(id)
      if (payload !== undefined) await touch(id, payload)
      return payload
    },
  })
}

const METHODS = ['upsert', 'find', 'findByUid', 'findByUserCode', 'consume', 'destroy', 'revokeByGrantId'] as const

// The provider's own errors (a lost claim's invalid_grant) pass; anything else is an outage.
function failClosed (inner: ProviderAdapter): ProviderAdapter {
  const guarded: Record<string, unknown> = {}
  for (const method of METHODS) {
    guarded[method] = async (...args: unknown[]) => {
      try {
        return await (inner[method] as (...a: unknown[]) => Promise<unknown>).apply(inner, args)
      } catch (err) {
        throw err instanceof errors.OIDCProviderError ? err : unavailable(err)
      }
    }
  }
  return guarded as unknown as ProviderAdapter
}

export function createStore (user: AdapterFactory | undefined, options: StoreOptions): AdapterFactory {
  const storage = user === undefined ? new ExpiringStorage() : undefined
  const adapters = new Map<string, ProviderAdapter>()
  const factory: AdapterFactory = (model) => {
    let adapter = adapters.get(model)
    if (adapter !== undefined) return adapter
    adapter = storage === undefined
      ? failClosed((user as AdapterFactory)(model))
      : atomicMemoryAdapter(new MemoryAdapter(model, storage) as unknown as ProviderAdapter, model, (grantId) => factory('Grant').destroy(grantId))
    if (model === 'Client' && options.clientIdleTtl !== undefined) adapter = idleExpiringClients(adapter, options.clientIdleTtl)
    adapters.set(model, adapter)
    return adapter
  }
  return factory
}
