// The small checks every option goes through (lib/options.ts, lib/resource-
// options.ts, lib/tenant-options.ts): each message names the option, what was
// received (never a secret) and the fix, and every failure is
// FST_MCP_AUTH_INVALID_OPTION.
import { invalidOption } from './errors.js'
import { isLoopbackHost } from './resource.js'
import { SCOPE_TOKEN } from './scopes.js'
import { nearest } from './suggest.js'

export function checkKeys (prefix: string, value: Record<string, unknown>, known: readonly string[], ignored?: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key) || ignored?.has(key)) continue
    const hint = nearest(key, known)
    throw invalidOption(`"${prefix}${key}" is not a known option${hint === undefined ? '' : `; did you mean "${prefix}${hint}"?`}`)
  }
}

export function stringList (name: string, value: unknown, example: string): readonly string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw invalidOption(`${name} must be an array of non-empty strings (${example}); got ${show(value)}`)
  }
  return Object.freeze([...value as string[]])
}

export function scopeList (name: string, value: unknown): readonly string[] {
  const list = stringList(name, value, 'e.g. ["mcp:tools:read"]')
  for (const scope of list) {
    if (!SCOPE_TOKEN.test(scope)) throw invalidOption(`${name} has an invalid scope token ${show(scope)} (RFC 6749 §3.3: no spaces, quotes or backslashes)`)
  }
  // MCP 2026-07-28 §10: never advertise offline_access.
  return Object.freeze(list.filter((s) => s !== 'offline_access'))
}

export function seconds (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidOption(`${name} must be a number of seconds between ${min} and ${max}; got ${show(value)}`)
  }
  return value
}

export function integer (name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalidOption(`${name} must be an integer between ${min} and ${max}; got ${show(value)}`)
  }
  return value as number
}

export function optionalFunction (name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(`${name} must be a function; got ${show(value)}`)
}

export function optionalString (name: string, value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || value === '')) throw invalidOption(`${name} must be a non-empty string; got ${show(value)}`)
  return value as string | undefined
}

export function optionalUrl (name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  try {
    if (typeof value === 'string' && /^https?:$/.test(new URL(value).protocol)) return value
  } catch {}
  throw invalidOption(`${name} must be an absolute http(s) URL; got ${show(value)}`)
}

export function endpointUrl (name: string, value: unknown): string {
  let url: URL | undefined
  try {
    // Printable ASCII without quotes or backslashes: these URLs reach challenges and logs.
    url = typeof value === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value) ? new URL(value) : undefined
  } catch {}
  if (url !== undefined && (url.username !== '' || url.password !== '')) throw invalidOption(`${name} must not contain user information (user:password@)`)
  if (url === undefined) throw invalidOption(`${name} must be an absolute https URL (printable ASCII, no quotes); got ${show(value)}`)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw invalidOption(`${name} must use https (http only for loopback hosts); got ${show(value)}`)
  }
  return value as string
}

export function show (value: unknown): string {
  if (typeof value === 'function') return 'a function'
  try {
    const text = JSON.stringify(value)
    if (text === undefined) return String(value)
    return text.length > 80 ? text.slice(0, 77) + '...' : text
  } catch {
    return typeof value
  }
}

export function booleanOption (name: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalidOption(`${name} must be a boolean; got ${show(value)}`)
  return value
}

export function issuerList (name: string, value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidOption(`${name} must be a non-empty array of issuer identifiers, e.g. ["https://auth.example.com"]; got ${show(value)}`)
  }
  for (const issuer of value) {
    if (typeof issuer !== 'string') throw invalidOption(`${name} entries must be strings; got ${show(issuer)}`)
    let url: URL
    try {
      url = new URL(issuer)
    } catch {
      throw invalidOption(`${name} entries must be absolute https URLs (the exact "iss" value); got ${show(issuer)}`)
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw invalidOption(`${name} entries must use https (http only for loopback hosts); got ${show(issuer)}`)
    }
    if (url.search !== '' || url.hash !== '') {
      throw invalidOption(`${name} entries must not have a query or fragment (RFC 8414 §2); got ${show(issuer)}`)
    }
  }
  return Object.freeze([...new Set(value as string[])])
}
