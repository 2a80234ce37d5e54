// Credentials shared by every process through Redis, encrypted at rest
// (AES-256-GCM, key ID stored, rotation by `{ current, previous }`). A record
// that does not open (a wrong or retired key, tampering) reads as absent and is
// reported, never as an error that would stop a user from signing in again.
import { randomUUID } from 'node:crypto'
import { invalidSetting } from '../../errors.js'
import { redisCommands } from '../../stores/redis-client.js'
import type { RedisClient } from '../../stores/redis-client.js'
import { fail } from '../errors.js'
import type { CredentialStore, StoreLock, StoredRecord } from './credential-store.js'
import { createKeyring } from './encryption.js'
import type { EncryptionKeyOption } from './encryption.js'

export interface UnreadableRecord {
  /** The store key (never the record). */
  readonly key: string
  /** `unknown_key`: sealed with a key this store was not given; `corrupt`: does not open (wrong key material, tampering). */
  readonly failure: 'unknown_key' | 'corrupt'
  /** The key ID stored with the record. */
  readonly keyId: string | undefined
}

export interface RedisCredentialStoreOptions {
  /** Required: 32 bytes, or `{ current, previous }` while rotating. */
  encryptionKey: EncryptionKeyOption
  /** Prepended to every key (default 'fastify-mcp-auth:client:'). */
  prefix?: string
  /** Seconds to wait for Redis before a store call fails (default 2). */
  timeout?: number
  /** Told about every record that does not open; default: a process warning (FST_MCP_CLIENT_STORE_UNREADABLE). */
  onUnreadable?: (event: UnreadableRecord) => void
}

// Deletes the lock only when it still holds our token: an expired lock re-taken
// by another process is theirs.
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"

function warnUnreadable (event: UnreadableRecord): void {
  process.emitWarning(`credential record ${event.key} could not be opened (${event.failure}, key ID ${event.keyId ?? 'none'}); treated as absent`, { code: 'FST_MCP_CLIENT_STORE_UNREADABLE' })
}

// SCAN MATCH treats these as glob syntax.
function globEscape (value: string): string {
  return value.replace(/[*?[\]\\]/g, '\\$&')
}

/**
 * A CredentialStore on Redis through an ioredis or node-redis (v4/v5) client
 * (the suite's one Redis client contract). The client is never closed here.
 */
export function redisCredentialStore (client: RedisClient, options: RedisCredentialStoreOptions): CredentialStore {
  if (typeof options !== 'object' || options === null) {
    throw invalidSetting('redisCredentialStore(client, options): options must be an object with encryptionKey')
  }
  const { prefix = 'fastify-mcp-auth:client:', timeout = 2, onUnreadable = warnUnreadable } = options
  if (typeof prefix !== 'string') throw invalidSetting(`redisCredentialStore prefix must be a string; got ${typeof prefix}`)
  if (typeof onUnreadable !== 'function') throw invalidSetting('redisCredentialStore onUnreadable must be a function')
  const keyring = createKeyring(options.encryptionKey, 'redisCredentialStore encryptionKey')
  const redis = redisCommands(client, 'redisCredentialStore', timeout)

  async function send (command: string[]): Promise<unknown> {
    try {
      return await redis.send(command)
    } catch (err) {
      throw fail.store(`redisCredentialStore: ${command[0]} failed`, err)
    }
  }

  function decode (key: string, reply: unknown): StoredRecord | undefined {
    if (reply === null || reply === undefined) return undefined
    if (typeof reply !== 'string') throw fail.store(`redisCredentialStore: unexpected reply type ${typeof reply}`)
    const opened = keyring.open(reply, key)
    if (!opened.ok) {
      try {
        onUnreadable({ key, failure: opened.failure, keyId: opened.keyId })
      } catch {}
      return undefined
    }
    return Object.freeze(JSON.parse(opened.plaintext) as StoredRecord)
  }

  return {
    async get (key) {
      return decode(key, await send(['GET', prefix + key]))
    },
    async set (key, record, ttlSeconds) {
      const sealed = keyring.seal(JSON.stringify(record), key)
      const command = ['SET', prefix + key, sealed]
      if (ttlSeconds !== undefined) command.push('PX', String(Math.max(1, Math.ceil(ttlSeconds * 1000))))
      const reply = await send(command)
      if (reply !== 'OK') throw fail.store(`redisCredentialStore: unexpected reply to SET: ${typeof reply}`)
    },
    async delete (key) {
      await send(['DEL', prefix + key])
    },
    async take (key) {
      // GETDEL (Redis ≥ 6.2): of two concurrent takers exactly one gets the value.
      return decode(key, await send(['GETDEL', prefix + key]))
    },
    async lock (key, ttlSeconds) {
      const token = randomUUID()
      const lockKey = `${prefix}lock:${key}`
      const reply = await send(['SET', lockKey, token, 'NX', 'PX', String(Math.max(1, Math.ceil(ttlSeconds * 1000)))])
      if (reply === null) return undefined
      if (reply !== 'OK') throw fail.store(`redisCredentialStore: unexpected reply to SET NX: ${typeof reply}`)
      const lock: StoreLock = {
        async release () {
          await send(['EVAL', RELEASE, '1', lockKey, token])
        },
      }
      return lock
    },
    async keys (keyPrefix) {
      const found = new Set<string>()
      const pattern = `${globEscape(prefix + keyPrefix)}*`
      let cursor = '0'
      do {
        const reply = await send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '200'])
        if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) throw fail.store('redisCredentialStore: unexpected reply to SCAN')
        cursor = String(reply[0])
        for (const key of reply[1] as unknown[]) found.add(String(key).slice(prefix.length))
      } while (cursor !== '0')
      return [...found]
    },
  }
}
