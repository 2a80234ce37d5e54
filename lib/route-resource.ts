// Which configured resource a route's requests are checked against: the longest
// resource the route's path equals or lies under on a "/" boundary. The path is
// the route pattern, filled (for a parametric route) with the router's decoded
// parameters and spelled in RFC 3986 form like the resources, so percent-
// encoding, case or slashes in the raw URL cannot move a request to another
// resource. There is no fallback: a path that names no resource is refused.
import type { ParsedResource } from './resource.js'
import { encodePath, encodeSegment } from './uri-path.js'

export interface RouteResource<R> {
  /** The resource of every request of the route, when its pattern decides it. */
  readonly fixed: R | undefined
  /**
   * The resource for one request's router parameters, or undefined when the
   * path they fill names none. Undefined when `fixed` decides.
   */
  readonly select: ((params: unknown) => R | undefined) | undefined
  /** True when no request of the route can name a resource (several configured). */
  readonly outside: boolean
  /** The challenge for a request that names no resource: the resource sharing the longest static prefix. */
  readonly nearest: R
}

export interface RouteResources<R> {
  /** The binding of a route pattern as Fastify registers it (`/tenants/:tenant/mcp`), made once per pattern. */
  forRoute (pattern: string): RouteResource<R>
}

type Part =
  | { readonly kind: 'static', readonly text: string }
  | { readonly kind: 'param', readonly name: string }
  | { readonly kind: 'wildcard' }

/**
 * A find-my-way pattern in parts: `::` is a literal colon, `:name` a parameter
 * (ended by "/", "-", ".", "(" or ":"), optionally followed by a `(regex)`, and
 * `*` the wildcard. Static text is returned literally (the router's form).
 */
export function parsePattern (pattern: string): Part[] {
  const parts: Part[] = []
  let text = ''
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string
    if (char === ':' && pattern[i + 1] === ':') {
      text += ':'
      i++
    } else if (char === ':') {
      if (text !== '') parts.push({ kind: 'static', text })
      text = ''
      let end = i + 1
      while (end < pattern.length && !'/-.(:'.includes(pattern[end] as string)) end++
      parts.push({ kind: 'param', name: pattern.slice(i + 1, end) })
      if (pattern[end] === '(') end = closingParenthesis(pattern, end) + 1
      i = end - 1
    } else if (char === '*') {
      if (text !== '') parts.push({ kind: 'static', text })
      text = ''
      parts.push({ kind: 'wildcard' })
    } else {
      text += char
    }
  }
  if (text !== '') parts.push({ kind: 'static', text })
  return parts
}

function closingParenthesis (pattern: string, open: number): number {
  let depth = 0
  for (let i = open; i < pattern.length; i++) {
    const char = pattern[i]
    if (char === '\\') i++
    else if (char === '(') depth++
    else if (char === ')' && --depth === 0) return i
  }
  return pattern.length
}

/** True when `path` is `prefix` or lies below it on a segment boundary. */
export function isPathWithin (path: string, prefix: string): boolean {
  if (prefix === '' || prefix === '/') return true
  if (!path.startsWith(prefix)) return false
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 47 /* / */
}

function commonPrefixLength (a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}

export function createRouteResources<R extends { readonly parsed: ParsedResource }> (resources: readonly R[]): RouteResources<R> {
  const first = resources[0]
  if (first === undefined) throw new TypeError('at least one resource is required')
  const byPath = new Map(resources.map((r) => [r.parsed.path, r]))

  /**
   * The longest resource `path` lies within, or undefined: the path itself, then
   * each prefix ending at a "/" (with it, then without it), longest first. One
   * lookup per segment, whatever the number of resources.
   */
  function longest (path: string): R | undefined {
    const exact = byPath.get(path)
    if (exact !== undefined) return exact
    for (let i = path.lastIndexOf('/'); i >= 0; i = i === 0 ? -1 : path.lastIndexOf('/', i - 1)) {
      const found = byPath.get(path.slice(0, i + 1)) ?? byPath.get(path.slice(0, i))
      if (found !== undefined) return found
    }
    // A bare origin holds every path.
    return byPath.get('')
  }

  function nearestTo (head: string): R {
    let best = first as R
    let bestLength = -1
    for (const r of resources) {
      const length = commonPrefixLength(head, r.parsed.path)
      if (length > bestLength) {
        best = r
        bestLength = length
      }
    }
    return best
  }

  // Patterns come from route registrations, never from requests: the map stays small.
  const bindings = new Map<string, RouteResource<R>>()
  function forRoute (pattern: string): RouteResource<R> {
    let binding = bindings.get(pattern)
    if (binding === undefined) {
      binding = bind(pattern)
      bindings.set(pattern, binding)
    }
    return binding
  }

  function bind (pattern: string): RouteResource<R> {
    const parts = parsePattern(pattern)
    // The RFC 3986 spelling of the static text before the first parameter.
    const headPart = parts[0]
    const head = headPart?.kind === 'static' ? encodePath(headPart.text) ?? '' : ''
    const nearest = nearestTo(head)
    if (resources.length === 1) return { fixed: first, select: undefined, outside: false, nearest }
    // Text no URI can spell (a lone surrogate) lies under no resource path, whatever the
    // parameters: only a bare origin holds it, as it holds a static route of such text.
    if (parts.some((part) => part.kind === 'static' && encodePath(part.text) === undefined)) {
      const fixed = byPath.get('')
      return fixed === undefined
        ? { fixed: undefined, select: () => undefined, outside: true, nearest }
        : { fixed, select: undefined, outside: false, nearest }
    }
    const dynamic = parts.length > 1 || (headPart !== undefined && headPart.kind !== 'static')
    // Only the whole segments before the first parameter are fixed.
    const fixedPath = dynamic ? head.slice(0, head.lastIndexOf('/') + 1) : head
    const reachable = dynamic && resources.some((r) => r.parsed.path.length > fixedPath.length && r.parsed.path.startsWith(fixedPath))
    if (!reachable) {
      const fixed = longest(fixedPath)
      return fixed === undefined
        ? { fixed: undefined, select: () => undefined, outside: true, nearest }
        : { fixed, select: undefined, outside: false, nearest }
    }
    const fill = createFiller(parts)
    return {
      fixed: undefined,
      select (params) {
        const path = fill(params)
        return path === undefined ? undefined : longest(path)
      },
      outside: false,
      nearest,
    }
  }

  return { forRoute }
}

/**
 * The RFC 3986 path a request of the pattern stands for, from the router's decoded
 * parameters; undefined when a value, or the pattern's own static text (a lone
 * surrogate), has no RFC 3986 spelling.
 */
export function createFiller (parts: readonly Part[]): (params: unknown) => string | undefined {
  const encoded = parts.map((part) => part.kind === 'static' ? { kind: part.kind, text: encodePath(part.text) } : part)
  return (params) => {
    const values = typeof params === 'object' && params !== null ? params as Record<string, unknown> : {}
    let path = ''
    for (const part of encoded) {
      let piece: string | undefined
      if (part.kind === 'static') piece = part.text
      else if (part.kind === 'param') piece = encodeSegment(String(values[part.name] ?? ''))
      // The wildcard spans segments: its "/" are separators.
      else piece = encodePath(String(values['*'] ?? ''))
      if (piece === undefined) return undefined
      path += piece
    }
    return path
  }
}
