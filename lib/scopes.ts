// Scope matching (RFC 6749 §3.3, MCP 2026-07-28 §11.1.2 "servers MUST account
// for scope hierarchies"): a granted `a:b` satisfies a required `a:b:c`.
// Matching respects ":" boundaries and case; wildcards only when enabled.

export type ScopeMatchMode = 'hierarchical' | 'exact'

export interface ScopesSatisfyOptions {
  /** 'all' (default): every required scope; 'any': at least one. */
  match?: 'all' | 'any'
  /** 'hierarchical' (default) or 'exact'. */
  mode?: ScopeMatchMode
}

/** MCP scope conventions. */
export const McpScopes = Object.freeze({
  toolsRead: 'mcp:tools:read',
  toolsCall: 'mcp:tools:call',
  resourcesRead: 'mcp:resources:read',
  promptsRead: 'mcp:prompts:read',
  /** A server-specific scope: `McpScopes.server('search', 'tools:call') === 'search:mcp:tools:call'`. */
  server: (server: string, scope: string): string => `${server}:mcp:${scope}`,
})

/** True when one granted scope covers the required one. */
export function scopeGrants (granted: string, required: string, mode: ScopeMatchMode = 'hierarchical'): boolean {
  if (granted === required) return true
  return mode === 'hierarchical' &&
    required.length > granted.length &&
    required.charCodeAt(granted.length) === 58 /* : */ &&
    required.startsWith(granted)
}

function isGranted (granted: readonly string[], required: string, mode: ScopeMatchMode): boolean {
  for (const g of granted) if (scopeGrants(g, required, mode)) return true
  return false
}

export function scopesSatisfy (granted: readonly string[], required: readonly string[], options: ScopesSatisfyOptions = {}): boolean {
  const mode = options.mode ?? 'hierarchical'
  if (required.length === 0) return true
  if (options.match === 'any') return required.some((r) => isGranted(granted, r, mode))
  return required.every((r) => isGranted(granted, r, mode))
}
