// oidc-provider's storage adapter on Redis, through the suite's one Redis client
// contract. oidc-provider checks single use by find-then-write; here each such
// claim is one atomic script, so two instances racing on one authorization
// code, refresh token, PAR request_uri or proof `jti` cannot both win: the
// loser gets `invalid_grant` (and, for codes and refresh tokens, the grant is
// revoked, as for any reuse), never a second token and never a 500.
import { errors } from 'oidc-provider'
import { invalidSetting } from '../errors.js'
import { redisCommands } from '../stores/redis-client.js'
import type { RedisClient, RedisCommands } from '../stores/redis-client.js'
import type { AdapterFactory, AdapterPayload, ProviderAdapter } from './provider-types.js'
import { GRANTABLE } from './provider-types.js'

export interface RedisAdapterOptions {
  /** Prepended to every key (default 'fastify-mcp-auth:as:'). */
  prefix?: string
  /** Seconds to wait for Redis before answering 503 temporarily_unavailable (default 2). */
  timeout?: number
}

// KEYS: record, grant set ('' when none), uid index, userCode index. ARGV: payload, ttl (0 = none), id.
const UPSERT = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
if KEYS[2] ~= '' then
  redis.call('SADD', KEYS[2], KEYS[1])
  local current = redis.call('TTL', KEYS[2])
  if ttl == 0 then redis.call('PERSIST', KEYS[2])
  elseif current ~= -1 and current < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
end
for i = 3, 4 do
  if KEYS[i] ~= '' then
    if ttl > 0 then redis.call('SET', KEYS[i], ARGV[3], 'EX', ttl) else redis.call('SET', KEYS[i], ARGV[3]) end
  end
end
return 1`

// The single-use claim: the first caller marks the record consumed; every later
// one gets the stored payload back (to revoke its grant) and loses.
const CONSUME = `
local payload = redis.call('HGET', KEYS[1], 'payload')
if not payload then return {0, false} end
if redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1]) == 1 then return {1, false} end
return {0, payload}`

// Replay detection: oidc-provider asks find(id) and, when nothing is there,
// saves the record. Here the find itself claims the id (SET when absent), so of
// two instances checking the same proof at once exactly one sees "not found".
const CLAIM = `
local payload = redis.call('HGET', KEYS[1], 'payload')
if payload then return payload end
redis.call('HSET', KEYS[1], 'payload', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return false`

// KEYS: grant set, the Grant record to delete with it ('' to keep it).
const REVOKE = `
local members = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(members) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
if KEYS[2] ~= '' then redis.call('DEL', KEYS[2]) end
return #members`

// A claim record lives until oidc-provider's own save replaces it with the real expiry.
const CLAIM_TTL_SECONDS = 3600

function epoch (): number {
  return Math.floor(Date.now() / 1000)
}

/** A storage outage as oidc-provider answers it: 503 temporarily_unavailable (never a 500, never a pass). */
export function unavailable (cause: unknown): Error {
  const error = new errors.TemporarilyUnavailable('the authorization server storage is unavailable, retry later') as Error & { status: number, statusCode: number, expose: boolean }
  // oidc-provider's error classes default to 400; a storage outage is a 503.
  error.status = 503
  error.statusCode = 503
  error.expose = true
  error.cause = cause
  return error
}

class RedisAdapter implements ProviderAdapter {
  readonly #redis: RedisCommands
  readonly #prefix: string
  readonly #model: string

  constructor (redis: RedisCommands, prefix: string, model: string) {
    this.#redis = redis
    this.#prefix = prefix
    this.#model = model
  }

  #key (id: string, model = this.#model): string {
    return `${this.#prefix}${model}:${id}`
  }

  #grantKey (grantId: string): string {
    return `${this.#prefix}grant:${grantId}`
  }

  async #send (command: string[]): Promise<unknown> {
    try {
      return await this.#redis.send(command)
    } catch (err) {
      throw unavailable(err)
    }
  }

  async upsert (id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const ttl = typeof expiresIn === 'number' && expiresIn > 0 ? Math.ceil(expiresIn) : 0
    const grantKey = GRANTABLE.has(this.#model) && typeof payload.grantId === 'string' ? this.#grantKey(payload.grantId) : ''
    const uidKey = this.#model === 'Session' && typeof payload.uid === 'string' ? `${this.#prefix}sessionUid:${payload.uid}` : ''
    const userCodeKey = typeof payload.userCode === 'string' ? `${this.#prefix}userCode:${payload.userCode}` : ''
    await this.#send(['EVAL', UPSERT, '4', this.#key(id), grantKey, uidKey, userCodeKey, JSON.stringify(payload), String(ttl), id])
  }

  async find (id: string): Promise<AdapterPayload | undefined> {
    if (this.#model === 'ReplayDetection') return this.#claim(id)
    const reply = await this.#send(['HMGET', this.#key(id), 'payload', 'consumed'])
    if (!Array.isArray(reply) || reply[0] === null || reply[0] === undefined) return undefined
    const payload = JSON.parse(String(reply[0])) as AdapterPayload
    if (reply[1] !== null && reply[1] !== undefined) payload.consumed = Number(reply[1])
    return payload
  }

  async #claim (id: string): Promise<AdapterPayload | undefined> {
    const now = epoch()
    const placeholder = JSON.stringify({ jti: id, kind: 'ReplayDetection', iat: now, exp: now + CLAIM_TTL_SECONDS })
    const reply = await this.#send(['EVAL', CLAIM, '1', this.#key(id), placeholder, String(CLAIM_TTL_SECONDS)])
    return typeof reply === 'string' ? JSON.parse(reply) as AdapterPayload : undefined
  }

  async findByUid (uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#send(['GET', `${this.#prefix}sessionUid:${uid}`])
    return typeof id === 'string' ? this.find(id) : undefined
  }

  async findByUserCode (userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#send(['GET', `${this.#prefix}userCode:${userCode}`])
    return typeof id === 'string' ? this.find(id) : undefined
  }

  async consume (id: string): Promise<void> {
    const reply = await this.#send(['EVAL', CONSUME, '1', this.#key(id), String(epoch())])
    if (Array.isArray(reply) && Number(reply[0]) === 1) return
    const stored = Array.isArray(reply) && typeof reply[1] === 'string' ? JSON.parse(reply[1]) as AdapterPayload : undefined
    // The grant goes whole, its Grant record too (oidc-provider's own reuse check does the
    // same): the winner of the race may still save its new token, which then names no grant.
    throw await lostClaim(this.#model, stored, async (grantId) => {
      await this.#send(['EVAL', REVOKE, '2', this.#grantKey(grantId), this.#key(grantId, 'Grant')])
    })
  }

  async destroy (id: string): Promise<void> {
    await this.#send(['DEL', this.#key(id)])
  }

  async revokeByGrantId (grantId: string): Promise<void> {
    await this.#send(['EVAL', REVOKE, '2', this.#grantKey(grantId), ''])
  }
}

/**
 * The error for the loser of a single-use claim. A code or refresh token used
 * twice revokes its grant (RFC 6749 §4.1.2, OAuth 2.1 §4.3.1), as oidc-provider
 * does for a sequential reuse.
 */
export async function lostClaim (model: string, stored: AdapterPayload | undefined, revoke: (grantId: string) => Promise<void>): Promise<Error> {
  if ((model === 'AuthorizationCode' || model === 'RefreshToken') && typeof stored?.grantId === 'string') {
    await revoke(stored.grantId)
  }
  if (model === 'PushedAuthorizationRequest') return new errors.InvalidRequestUri('request_uri already used')
  return new errors.InvalidGrant(`${model === 'RefreshToken' ? 'refresh token' : 'grant'} already used`)
}

/**
 * oidc-provider's storage on Redis: `store: redisAdapter(client)` with an
 * ioredis or node-redis (v4/v5) client. The adapter never closes the client.
 */
export function redisAdapter (client: RedisClient, options: RedisAdapterOptions = {}): AdapterFactory {
  if (typeof options !== 'object' || options === null) throw invalidSetting('redisAdapter options must be an object such as { prefix, timeout }')
  const { prefix = 'fastify-mcp-auth:as:', timeout = 2 } = options
  if (typeof prefix !== 'string') throw invalidSetting(`redisAdapter prefix must be a string; got ${typeof prefix}`)
  const redis = redisCommands(client, 'redisAdapter', timeout)
  const factory: AdapterFactory = (model) => new RedisAdapter(redis, prefix, model)
  return Object.assign(factory, { [kRedis]: { commands: redis, prefix } satisfies RedisStoreInfo })
}

/** What the plugin reads from a store redisAdapter made: its Redis (health, rate-limit counters). */
export interface RedisStoreInfo {
  readonly commands: RedisCommands
  readonly prefix: string
}

const kRedis = Symbol('fastify-mcp-auth.redisAdapter')

/** The Redis behind a store made by redisAdapter; undefined for any other store. */
export function redisOf (store: unknown): RedisStoreInfo | undefined {
  return typeof store === 'function' ? (store as unknown as Record<symbol, RedisStoreInfo | undefined>)[kRedis] : undefined
}
