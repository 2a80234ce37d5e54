// What the client's steps share, built once per client: the store, the
// outbound transport, the registrar, the DPoP keys, and how a token request's
// context is assembled. Each piece keeps its own state; this only hands them around.
import type * as oauth from 'oauth4webapi'
import type { DpopKey } from './dpop.js'
import type { DpopKeys } from './dpop-keys.js'
import type { TokenRequestContext } from './grants.js'
import type { Outbound } from './outbound.js'
import type { RegisteredClient, Registrar } from './registration.js'
import type { CredentialStore } from './stores/credential-store.js'

export interface ClientContext {
  readonly store: CredentialStore
  readonly outbound: Outbound
  readonly registrar: Registrar
  readonly keys: DpopKeys
  tokenContext (as: oauth.AuthorizationServer, client: RegisteredClient, key: DpopKey | undefined): TokenRequestContext
}
