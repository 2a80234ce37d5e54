// Records at rest are sealed with AES-256-GCM: a fresh 96-bit IV per write, the
// key's ID stored beside the ciphertext (so a rotated key still opens old
// records), and the store key as additional data (so a record copied under
// another key, another user's for instance, fails to open).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { invalidSetting } from '../../errors.js'

/** 32 bytes, as bytes or as a base64, base64url or hex string. */
export type EncryptionKey = Uint8Array | string

/** One key, or the current key plus the previous ones still accepted for reading. */
export type EncryptionKeyOption = EncryptionKey | {
  current: EncryptionKey
  previous?: EncryptionKey | readonly EncryptionKey[]
}

interface KeyEntry {
  readonly id: string
  readonly key: Buffer
}

export type OpenResult =
  | { readonly ok: true, readonly plaintext: string, readonly keyId: string }
  | { readonly ok: false, readonly failure: 'unknown_key' | 'corrupt', readonly keyId: string | undefined }

export interface Keyring {
  readonly currentKeyId: string
  seal (plaintext: string, additionalData: string): string
  open (envelope: string, additionalData: string): OpenResult
}

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

function keyBytes (value: unknown, name: string): Buffer {
  let bytes: Buffer | undefined
  if (value instanceof Uint8Array) bytes = Buffer.from(value)
  else if (typeof value === 'string') {
    bytes = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64')
  }
  if (bytes === undefined || bytes.length !== 32) {
    // Never echo the value: it is (or is close to) a secret.
    throw invalidSetting(`${name} must be 32 bytes (a Buffer, or a base64, base64url or 64-character hex string)${typeof value === 'string' ? `; got a string of ${value.length} characters` : ''}`)
  }
  return bytes
}

// A short public name for a key: it cannot be reversed into the key.
function keyId (key: Buffer): string {
  return createHash('sha256').update('fastify-mcp-auth credential key').update(key).digest('base64url').slice(0, 12)
}

export function createKeyring (option: unknown, name = 'encryptionKey'): Keyring {
  if (option === undefined || option === null) throw invalidSetting(`${name} is required: the store keeps tokens and keys, and only encrypted (AES-256-GCM)`)
  const rotation = typeof option === 'object' && !(option instanceof Uint8Array)
    ? option as { current?: unknown, previous?: unknown }
    : { current: option, previous: undefined }
  const current = keyBytes(rotation.current, rotation === option ? `${name}.current` : name)
  const previous = rotation.previous === undefined ? [] : Array.isArray(rotation.previous) ? rotation.previous : [rotation.previous]
  const entries: KeyEntry[] = [current, ...previous.map((k, i) => keyBytes(k, `${name}.previous[${i}]`))].map((key) => ({ id: keyId(key), key }))
  const byId = new Map(entries.map((entry) => [entry.id, entry]))
  const active = entries[0] as KeyEntry

  return {
    currentKeyId: active.id,
    seal (plaintext, additionalData) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', active.key, iv)
      cipher.setAAD(Buffer.from(`${VERSION}.${active.id}.${additionalData}`))
      const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return `${VERSION}.${active.id}.${iv.toString('base64url')}.${sealed.toString('base64url')}`
    },
    open (envelope, additionalData) {
      const [version, id, iv, sealed, extra] = envelope.split('.')
      if (version !== VERSION || id === undefined || iv === undefined || sealed === undefined || extra !== undefined) {
        return { ok: false, failure: 'corrupt', keyId: id }
      }
      const entry = byId.get(id)
      if (entry === undefined) return { ok: false, failure: 'unknown_key', keyId: id }
      const ivBytes = Buffer.from(iv, 'base64url')
      const bytes = Buffer.from(sealed, 'base64url')
      if (ivBytes.length !== IV_BYTES || bytes.length < TAG_BYTES) return { ok: false, failure: 'corrupt', keyId: id }
      try {
        const decipher = createDecipheriv('aes-256-gcm', entry.key, ivBytes)
        decipher.setAAD(Buffer.from(`${VERSION}.${id}.${additionalData}`))
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
        const plaintext = Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8')
        return { ok: true, plaintext, keyId: id }
      } catch {
        return { ok: false, failure: 'corrupt', keyId: id }
      }
    },
  }
}
