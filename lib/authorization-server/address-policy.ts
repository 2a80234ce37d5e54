// Which addresses an outbound fetch (Client ID Metadata Documents, client
// jwks_uri) may reach: public unicast only. Loopback, private (RFC 1918),
// shared (RFC 6598), link-local (cloud metadata at 169.254.169.254), unique-local
// and the other special-use ranges are refused, so a client_id URL cannot turn
// the authorization server into a probe of its own network (CIMD draft §6).
import { BlockList, isIP } from 'node:net'

const refused = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16],
  ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) refused.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64],
  ['2001::', 23], ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) refused.addSubnet(network, prefix, 'ipv6')

/** True when `address` (an IP literal) is a public unicast address. */
export function isPublicAddress (address: string): boolean {
  const family = isIP(address)
  if (family === 0) return false
  if (family === 6) {
    // IPv4-mapped addresses are judged as the IPv4 address they carry (BlockList
    // also matches plain IPv4 against ::ffff:0:0/96, so that range is not listed).
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
    if (mapped !== null) return isPublicAddress(mapped[1] as string)
  }
  return !refused.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

export type Lookup = (hostname: string) => Promise<ReadonlyArray<{ address: string, family: number }>>

/**
 * Resolves `hostname` and refuses it unless every address is public (one
 * private answer among public ones is enough to refuse: the connection could
 * use it). Returns the reason for refusing, or undefined when allowed.
 */
export async function checkHost (hostname: string, lookup: Lookup): Promise<string | undefined> {
  const literal = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
  if (isIP(literal) !== 0) return isPublicAddress(literal) ? undefined : `${hostname} is not a public address`
  let addresses: ReadonlyArray<{ address: string }>
  try {
    addresses = await lookup(literal)
  } catch {
    return `${hostname} does not resolve`
  }
  if (addresses.length === 0) return `${hostname} does not resolve`
  const blocked = addresses.find((a) => !isPublicAddress(a.address))
  return blocked === undefined ? undefined : `${hostname} resolves to a non-public address`
}
