// What the client keeps in its store and under which keys: credentials per
// (partition, issuer, client ID, resource), dynamic registrations per issuer,
// pending authorizations per hash of `state`. Records read back are checked
// field by field; a record of the wrong shape counts as absent.
import { createHash, randomUUID } from 'node:crypto'
import type { JWK } from 'jose'
import type { StoredRecord } from './stores/credential-store.js'

export interface CredentialRecord {
  readonly kind: 'credential'
  /** Changes on every write: how a waiting process sees that a refresh happened. */
  readonly rev: string
  readonly issuer: string
  readonly clientId: string
  readonly resource: string
  readonly accessToken: string
  /** Lowercased `token_type`: `bearer` or `dpop`. */
  readonly tokenType: string
  /** Seconds since the epoch; undefined when the server gave no `expires_in`. */
  readonly expiresAt: number | undefined
  readonly refreshToken: string | undefined
  /** Space-separated scopes granted (the response's `scope`, else what was requested). */
  readonly scope: string | undefined
  /** Every scope asked for this resource so far: the step-up union (SEP-2350), kept across restarts. */
  readonly requestedScope: string | undefined
  /** The private JWK of the generated DPoP key the tokens are bound to. */
  readonly dpopKey: JWK | undefined
  readonly updatedAt: number
}

export interface RegistrationRecord {
  readonly kind: 'registration'
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: string | undefined
  readonly method: string
  readonly registeredAt: number
}

export interface PendingRecord {
  readonly kind: 'pending'
  readonly state: string
  readonly codeVerifier: string
  readonly issuer: string
  readonly clientId: string
  readonly resource: string
  readonly serverUrl: string
  readonly scope: string | undefined
  readonly redirectUri: string
  readonly partition: string
  readonly returnTo: string
  readonly dpopKey: JWK | undefined
  /** The authorization server's metadata as it was when the request went out: the callback is checked against it. */
  readonly authorizationServer: { readonly issuer: string, readonly [name: string]: unknown }
  readonly createdAt: number
}

function digest (...parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url')
}

/** All credentials of one partition start with this. */
export function credentialPrefix (partition: string): string {
  return `cred:${digest(partition)}:`
}

export function credentialKey (partition: string, issuer: string, clientId: string, resource: string): string {
  return credentialPrefix(partition) + digest(issuer, clientId, resource)
}

/** One registration per issuer and metadata: changed metadata registers anew. */
export function registrationKey (issuer: string, metadata: unknown): string {
  return `client:${digest(issuer)}:${digest(JSON.stringify(metadata))}`
}

/** The state itself never becomes a key: a store listing does not hand out live states. */
export function pendingKey (state: string): string {
  return `pending:${digest(state)}`
}

export function refreshLockKey (key: string): string {
  return `refresh:${key}`
}

export function newRevision (): string {
  return randomUUID()
}

const isString = (value: unknown): value is string => typeof value === 'string'
const optionalString = (value: unknown): value is string | undefined => value === undefined || typeof value === 'string'
const optionalJwk = (value: unknown): value is JWK | undefined => value === undefined || (typeof value === 'object' && value !== null)

export function readCredential (record: StoredRecord | undefined): CredentialRecord | undefined {
  if (record?.kind !== 'credential') return undefined
  const r = record as Record<string, unknown>
  if (!isString(r.rev) || !isString(r.issuer) || !isString(r.clientId) || !isString(r.resource) || !isString(r.accessToken) || !isString(r.tokenType)) return undefined
  if (!(r.expiresAt === undefined || typeof r.expiresAt === 'number') || typeof r.updatedAt !== 'number') return undefined
  if (!optionalString(r.refreshToken) || !optionalString(r.scope) || !optionalString(r.requestedScope) || !optionalJwk(r.dpopKey)) return undefined
  return record as unknown as CredentialRecord
}

export function readRegistration (record: StoredRecord | undefined): RegistrationRecord | undefined {
  if (record?.kind !== 'registration') return undefined
  const r = record as Record<string, unknown>
  if (!isString(r.issuer) || !isString(r.clientId) || !isString(r.method) || !optionalString(r.clientSecret)) return undefined
  return record as unknown as RegistrationRecord
}

export function readPending (record: StoredRecord | undefined): PendingRecord | undefined {
  if (record?.kind !== 'pending') return undefined
  const r = record as Record<string, unknown>
  const strings = ['state', 'codeVerifier', 'issuer', 'clientId', 'resource', 'serverUrl', 'redirectUri', 'partition', 'returnTo']
  if (!strings.every((name) => isString(r[name])) || !optionalString(r.scope) || !optionalJwk(r.dpopKey)) return undefined
  const as = r.authorizationServer as Record<string, unknown> | undefined
  if (typeof as !== 'object' || as === null || as.issuer !== r.issuer) return undefined
  return record as unknown as PendingRecord
}

/** Drops undefined fields: a store holds JSON. */
export function toStored (record: CredentialRecord | RegistrationRecord | PendingRecord): StoredRecord {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined))
}
