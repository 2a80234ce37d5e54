// Sign-out: every stored credential of a partition (or of one resource) is
// revoked at its authorization server (RFC 7009; the refresh token first) and
// deleted, whatever the server answers: signing out works with the server down.
import * as oauth from 'oauth4webapi'
import type { SignOutOptions, SignOutResult } from '../../types/client.js'
import { discoverAuthorizationServer } from './as-discovery.js'
import { clientAuthentication } from './client-auth.js'
import type { ClientContext } from './context.js'
import { credentialPrefix, readCredential } from './records.js'
import type { CredentialRecord } from './records.js'

async function revokeAll (context: ClientContext, record: CredentialRecord): Promise<number> {
  const { outbound, registrar } = context
  const as = await discoverAuthorizationServer(record.issuer, outbound)
  if (as === undefined || typeof as.revocation_endpoint !== 'string') return 0
  const client = await registrar.find(as)
  if (client === undefined || client.clientId !== record.clientId) return 0
  const auth = await clientAuthentication(client.auth)
  let revoked = 0
  // The refresh token first: revoking it ends the grant at most servers (RFC 7009 §2.1).
  for (const [token, hint] of [[record.refreshToken, 'refresh_token'], [record.accessToken, 'access_token']] as const) {
    if (token === undefined) continue
    try {
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, { client_id: client.clientId }, auth, token, {
        additionalParameters: { token_type_hint: hint },
        [oauth.customFetch]: outbound.oauth,
        [oauth.allowInsecureRequests]: true,
      }))
      revoked++
    } catch (err) {
      // RFC 7009 §2.2.1: a server may not revoke some token types (self-contained access tokens often); they expire instead.
      if (err instanceof oauth.ResponseBodyError && err.error === 'unsupported_token_type') continue
      throw err
    }
  }
  return revoked
}

/** Revokes (RFC 7009) and deletes the credentials of a partition, or of one resource in it. */
export async function signOut (context: ClientContext, partition: string, signOutOptions: SignOutOptions = {}): Promise<SignOutResult> {
  const { store } = context
  let deleted = 0
  let revoked = 0
  const failures: Array<{ issuer: string, resource: string, error: Error }> = []
  for (const key of await store.keys(credentialPrefix(partition))) {
    const record = readCredential(await store.get(key))
    if (signOutOptions.resource !== undefined && record?.resource !== signOutOptions.resource) continue
    if (record !== undefined) {
      try {
        revoked += await revokeAll(context, record)
      } catch (err) {
        failures.push({ issuer: record.issuer, resource: record.resource, error: err instanceof Error ? err : new Error(String(err)) })
      }
    }
    // Deleted whatever the server said: signing out must work with the server down.
    await store.delete(key)
    deleted++
  }
  return Object.freeze({ deleted, revoked, failures: Object.freeze(failures) })
}
