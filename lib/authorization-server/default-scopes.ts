// Decides the scope an authorization request gets when it names resources but no scope.
//
// MCP clients omit `scope` when neither the 401 challenge nor the resource metadata
// advertises one (MCP authorization, "Scope Selection Strategy"), and the conformance
// suite's authorization-code scenario sends none. oidc-provider grants nothing to such a
// request and ends it with `access_denied`, so the authorization server fills in the
// resources' default scopes before oidc-provider reads the request.

export interface ScopelessRequestParameters {
  /** The request's `scope` parameter (RFC 6749 §3.3), as received. */
  readonly scope?: string | null | undefined
  /** The resource indicators the request targets (RFC 8707 §2), one or several. */
  readonly resource?: string | readonly string[] | null | undefined
}

/**
 * The scope to put on a request that names resources but no scope: the union of those
 * resources' default scopes, in order, each once. `undefined` leaves the request as it is:
 * when it has a scope (even one the resources do not allow: refusing it is the
 * authorization server's job), names no resource, or names a resource without defaults
 * (a partial default would grant one resource and silently drop another).
 */
export function defaultScope (
  parameters: ScopelessRequestParameters,
  defaultScopesOf: (resource: string) => readonly string[] | undefined
): string | undefined {
  // RFC 6749 §3.3: scope is a space-delimited list, so an empty or blank value names nothing.
  if (typeof parameters.scope === 'string' && parameters.scope.trim() !== '') return undefined
  const { resource } = parameters
  const resources = typeof resource === 'string' ? [resource] : resource ?? []
  if (resources.length === 0) return undefined
  const scopes = new Set<string>()
  for (const indicator of resources) {
    const defaults = defaultScopesOf(indicator)
    if (defaults === undefined || defaults.length === 0) return undefined
    for (const scope of defaults) scopes.add(scope)
  }
  return [...scopes].join(' ')
}
