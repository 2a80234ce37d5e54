// A resolver's route pattern (`/t/:tenant/mcp`): the parameters it names, the
// check every parameter value must pass before anything is asked or fetched
// for it (`tenantPattern`), and the one RFC 3986 path a request's decoded
// parameters stand for: the tenant's cache key, the path of its canonical
// resource URI and of its metadata URL.
import { invalidOption } from './errors.js'
import { createFiller, isPathWithin, parsePattern } from './route-resource.js'

export const DEFAULT_TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/

export interface TenantPath {
  /** The pattern as configured, in the router's form. */
  readonly pattern: string
  /** The names of its parameters, in order. */
  readonly names: readonly string[]
  /**
   * The tenant's parameters (only those the pattern names) and its path in RFC
   * 3986 form, or undefined when a value fails `tenantPattern`.
   */
  tenantOf (params: unknown): { readonly key: string, readonly params: Readonly<Record<string, string>> } | undefined
  /** The RFC 3986 path any parameters fill, checked or not (a refusal's challenge points there). */
  pathOf (params: unknown): string
  /** True when a route pattern is this pattern or lies below it. */
  covers (route: string): boolean
}

export function createTenantPath (name: string, pattern: unknown, tenantPattern: RegExp): TenantPath {
  if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
    throw invalidOption(`${name} must be a route pattern with parameters, such as "/t/:tenant/mcp"; got ${JSON.stringify(pattern) ?? typeof pattern}`)
  }
  const parts = parsePattern(pattern)
  if (parts.some((part) => part.kind === 'wildcard')) throw invalidOption(`${name} must not contain "*": each tenant is named by parameters`)
  const names = parts.flatMap((part) => part.kind === 'param' ? [part.name] : [])
  if (names.length === 0) throw invalidOption(`${name} must name the tenant with a parameter, such as "/t/:tenant/mcp"; got ${JSON.stringify(pattern)}`)
  if (names.some((n) => n === '')) throw invalidOption(`${name} has a parameter without a name; got ${JSON.stringify(pattern)}`)
  if (new Set(names).size !== names.length) throw invalidOption(`${name} names a parameter twice; got ${JSON.stringify(pattern)}`)
  const fill = createFiller(parts)
  // pathOf falls back on the pattern filled with empty values.
  if (fill({}) === undefined) throw invalidOption(`${name} has text no URI can spell (a lone surrogate); got ${JSON.stringify(pattern)}`)

  return {
    pattern,
    names: Object.freeze(names),
    tenantOf (params) {
      const values = typeof params === 'object' && params !== null ? params as Record<string, unknown> : {}
      const own: Record<string, string> = {}
      for (const n of names) {
        const value = values[n]
        if (typeof value !== 'string' || !tenantPattern.test(value)) return undefined
        own[n] = value
      }
      const key = fill(own)
      return key === undefined ? undefined : { key, params: Object.freeze(own) }
    },
    pathOf: (params) => fill(params) ?? fill({}) as string,
    covers: (route) => isPathWithin(route, pattern),
  }
}

/** Checks a `tenantPattern` option: a RegExp anchored at both ends, without the stateful flags. */
export function resolveTenantPattern (name: string, value: unknown): RegExp {
  if (value === undefined) return DEFAULT_TENANT_PATTERN
  if (!(value instanceof RegExp)) throw invalidOption(`${name} must be a RegExp such as /^[a-z0-9-]{1,63}$/`)
  // A match anywhere in the value would let "/", "." or "%" through around it.
  if (!value.source.startsWith('^') || !value.source.endsWith('$')) throw invalidOption(`${name} must be anchored with ^ and $; got ${String(value)}`)
  if (value.global || value.sticky) throw invalidOption(`${name} must not use the g or y flag (test() would keep state between requests); got ${String(value)}`)
  return value
}

/** The `{name}` placeholders of an issuer template. */
export function templateNames (template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] as string)
}

/** An issuer template with each `{name}` replaced by the tenant's (checked) parameter. */
export function fillTemplate (template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(/\{([^{}]*)\}/g, (_, n: string) => params[n] as string)
}
