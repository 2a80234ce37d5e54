// The fetch the provider uses for everything it downloads (Client ID Metadata
// Documents, client jwks_uri): https only, public addresses only (checked
// before connecting), and the provider's own guard stays on, which checks the
// address actually connected to, so a name that resolves differently the second
// time (DNS rebinding) is refused too. Size (5 kB) and time (2.5 s) limits are
// the provider's, configured beside this.
import { lookup as dnsLookup } from 'node:dns/promises'
import { checkHost } from './address-policy.js'
import type { Lookup } from './address-policy.js'

export const defaultLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

export type ProviderFetch = (url: string | URL, init: RequestInit) => Promise<Response>

export function createOutboundFetch (lookup: Lookup, next: ProviderFetch = (url, init) => globalThis.fetch(url, init)): ProviderFetch {
  return async function outboundFetch (url, init) {
    const target = new URL(url)
    if (target.protocol !== 'https:') throw new TypeError('outbound fetches use https only')
    const refused = await checkHost(target.hostname, lookup)
    if (refused !== undefined) throw new TypeError(`outbound fetch refused: ${refused}`)
    return next(target, init)
  }
}
