// The fetch the provider uses for everything it downloads (Client ID Metadata
// Documents, client jwks_uri): https only, public addresses only (checked
// before connecting, with `lookup`), and the provider's own guard stays on: its
// dispatcher checks the address the connection actually reached, so a name that
// resolves to a public address for the check and to a private one for the
// connection (DNS rebinding) is refused too. Without that guard (oidc-provider
// could not build it, and only warns) nothing is fetched. Size (5 kB) and time
// (2.5 s) limits are the provider's, configured beside this.
import { lookup as dnsLookup } from 'node:dns/promises'
import { checkHost } from './address-policy.js'
import type { Lookup } from './address-policy.js'

export const defaultLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

export type ProviderFetch = (url: string | URL, init: RequestInit) => Promise<Response>

export function createOutboundFetch (lookup: Lookup, next: ProviderFetch = (url, init) => globalThis.fetch(url, init)): ProviderFetch {
  return async function outboundFetch (url, init) {
    const target = new URL(url)
    if (target.protocol !== 'https:') throw new TypeError('outbound fetches use https only')
    if ((init as { dispatcher?: unknown }).dispatcher == null) throw new TypeError('outbound fetch refused: oidc-provider\'s connected-address guard is off')
    const refused = await checkHost(target.hostname, lookup)
    if (refused !== undefined) throw new TypeError(`outbound fetch refused: ${refused}`)
    return next(target, init)
  }
}
