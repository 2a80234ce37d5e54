// Which IP addresses a client acting for other people must not reach: loopback,
// private, link-local and the other special-use ranges (RFC 6890 and its IANA
// registries), so a hostile MCP server cannot point discovery at an internal service.
import { BlockList, isIP } from 'node:net'

const SPECIAL_USE_IPV4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
]

const SPECIAL_USE_IPV6: ReadonlyArray<readonly [string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64 (reaches IPv4 space, private parts included)
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard-only
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID…)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 (embeds an IPv4 address)
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
]

const specialUse = new BlockList()
for (const [network, prefix] of SPECIAL_USE_IPV4) specialUse.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of SPECIAL_USE_IPV6) specialUse.addSubnet(network, prefix, 'ipv6')

/**
 * True for an address in a special-use range. IPv4-mapped IPv6 addresses
 * (`::ffff:127.0.0.1`) are judged by their IPv4 address; anything that is not
 * an IP address counts as special-use, so an odd resolver answer fails closed.
 */
export function isSpecialUseAddress (address: string): boolean {
  const family = isIP(address)
  if (family === 4) return specialUse.check(address, 'ipv4')
  if (family === 6) return specialUse.check(address, 'ipv6')
  return true
}

/** The IP address a URL hostname spells literally (`[::1]` → `::1`), or undefined for a name. */
export function literalAddress (hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  return isIP(bare) === 0 ? undefined : bare
}
