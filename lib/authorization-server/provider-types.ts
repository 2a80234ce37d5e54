// The slice of oidc-provider's storage-adapter contract the suite relies on
// (its `Adapter` interface), kept here so the public types never need
// oidc-provider's own declarations.
export type AdapterPayload = Record<string, unknown> & {
  consumed?: unknown
  grantId?: string
  uid?: string
  userCode?: string
}

export interface ProviderAdapter {
  upsert (id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>
  find (id: string): Promise<AdapterPayload | undefined>
  findByUid (uid: string): Promise<AdapterPayload | undefined>
  findByUserCode (userCode: string): Promise<AdapterPayload | undefined>
  consume (id: string): Promise<void>
  destroy (id: string): Promise<void>
  revokeByGrantId (grantId: string): Promise<void>
}

export type AdapterFactory = (name: string) => ProviderAdapter

/** Models whose records belong to a grant and are revoked with it. */
export const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode'])
