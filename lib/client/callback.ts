// The second half of a deferred authorization (the mcpClient callback): the
// pending authorization is taken by the hash of its state (one use), must
// belong to the partition completing it, and is redeemed with the metadata
// and client it was started with.
import type * as oauth from 'oauth4webapi'
import { completeAuthorization } from './authorization.js'
import type { ClientContext } from './context.js'
import { credentialFromTokens } from './credentials.js'
import { fail } from './errors.js'
import { credentialKey, pendingKey, readCredential, readPending, toStored } from './records.js'
import type { PendingRecord } from './records.js'

/** Completes a deferred authorization from its callback URL; resolves with where to send the user. */
export async function completeDeferred (context: ClientContext, partition: string, callback: URL): Promise<{ readonly returnTo: string }> {
  const { store, registrar, keys } = context
  const state = callback.searchParams.get('state')
  if (state === null) throw fail.authorization('authorization.state', 'the callback carries no state')
  // Taken, not read: a callback URL works once, whoever opens it.
  const pending: PendingRecord | undefined = readPending(await store.take(pendingKey(state)))
  if (pending === undefined || pending.state !== state) throw fail.authorization('authorization.state', 'no pending authorization for this state (unknown, expired or already used)')
  if (pending.partition !== partition) throw fail.authorization('authorization.partition', 'this authorization was started by another user')
  const as = pending.authorizationServer as oauth.AuthorizationServer
  const client = await registrar.find(as)
  if (client === undefined || client.clientId !== pending.clientId) throw fail.registration('registration.unavailable', `the client registration at ${as.issuer} changed since the authorization request`)
  const dpopKey = await keys.of(pending.dpopKey)
  const tokens = await completeAuthorization(context.tokenContext(as, client, dpopKey), pending, callback)
  const key = credentialKey(partition, pending.issuer, pending.clientId, pending.resource)
  const record = credentialFromTokens(tokens, { issuer: pending.issuer, clientId: pending.clientId, resource: pending.resource, requestedScope: pending.scope, dpopKey: pending.dpopKey, previous: readCredential(await store.get(key)) })
  await store.set(key, toStored(record))
  return { returnTo: pending.returnTo }
}
