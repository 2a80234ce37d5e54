// Which scopes to ask for (MCP "Scope Selection Strategy"): the challenge's
// `scope` when there is one, else the resource metadata's `scopes_supported`,
// else none; on re-authorization, the union with everything asked for or
// granted before for this resource (SEP-2350), so step-up never loses a scope.

export interface ScopeInput {
  /** The 401/403 challenge's scopes. */
  readonly challenged: readonly string[] | undefined
  /** The resource metadata's `scopes_supported`. */
  readonly supported: readonly string[] | undefined
  /** Scopes requested or granted for this resource before (space-separated strings). */
  readonly previous: ReadonlyArray<string | undefined>
  /** The authorization server's `scopes_supported` (for offline_access, SEP-2207). */
  readonly serverSupported: readonly string[] | undefined
  /** Whether to add `offline_access` when the authorization server lists it. */
  readonly offlineAccess: boolean
}

function words (value: string | undefined): string[] {
  return value === undefined ? [] : value.split(' ').filter((s) => s !== '')
}

/** The space-separated `scope` to request, or undefined to omit the parameter. */
export function selectScope (input: ScopeInput): string | undefined {
  const base = input.challenged !== undefined && input.challenged.length > 0 ? input.challenged : input.supported ?? []
  const scopes = new Set([...input.previous.flatMap(words), ...base])
  if (scopes.size === 0) return undefined
  // Asked for only when something else is: alone it would replace the server's default scopes.
  if (input.offlineAccess && input.serverSupported?.includes('offline_access') === true) scopes.add('offline_access')
  return [...scopes].join(' ')
}

/** The union of scope strings, for the record kept per resource. */
export function unionScope (...values: ReadonlyArray<string | undefined>): string | undefined {
  const scopes = new Set(values.flatMap(words))
  return scopes.size === 0 ? undefined : [...scopes].join(' ')
}
