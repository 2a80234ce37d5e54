// The resolver form of `resource` at request time: from a request's router
// parameters to its tenant's resource. A value that fails `tenantPattern`
// names no tenant (nothing is asked or fetched for it); otherwise the tenant
// cache answers, asking the resolver (with a timeout) on a miss. No answer is
// ever another tenant's: the resource URI is the path the parameters fill.
import { invalidSetting, reject } from './errors.js'
import type { Logger } from './logger.js'
import type { ChallengeResource } from './rejection.js'
import { describeError } from './logger.js'
import type { ResolvedResource } from './resource-options.js'
import { audienceKey } from './resource.js'
import { createTenantCache } from './tenant-cache.js'
import { describeTenant } from './tenant-options.js'
import type { ResolvedTenancy } from './tenant-options.js'
import type { TokenCache } from './verifier.js'
import { PROTECTED_RESOURCE_WELL_KNOWN } from './well-known.js'
import type { TenantParams } from '../types/index.js'

export interface Tenancy {
  readonly options: ResolvedTenancy
  /**
   * The tenant's resource for a request's router parameters; undefined when they
   * name no tenant. Rejects with a 503 McpAuthError when the resolver fails.
   */
  resourceFor (params: unknown, request: unknown): Promise<ResolvedResource | undefined>
  /** The challenge for parameters that name no tenant: its path's metadata URL, no scope. */
  unknown (params: unknown): ChallengeResource
  /** The resource with this canonical URI if it is held, else the challenge its path names. */
  byUri (uri: string): ChallengeResource
  /** Drops a tenant's descriptor (or its being unknown) and the verified tokens for it. */
  invalidate (params: unknown): void
}

export interface TenancyOptions {
  readonly logger: Logger
  readonly nowMs: () => number
  /** The verified-token cache, when there is one: invalidate drops the tenant's tokens. */
  readonly tokens: TokenCache | undefined
  /** Held against each descriptor (e.g. introspection without an endpoint needs one issuer). */
  readonly checkResource?: (resource: ResolvedResource) => void
}

export function createTenancy (tenancy: ResolvedTenancy, options: TenancyOptions): Tenancy {
  const { path, origin } = tenancy
  const { logger } = options

  async function load (key: string, params: TenantParams, request: unknown): Promise<ResolvedResource | undefined> {
    let descriptor: unknown
    try {
      descriptor = await withTimeout(async () => tenancy.resolve(params, request as never), tenancy.timeoutMs)
    } catch (err) {
      logger.error({ tenant: key, err: describeError(err) }, 'mcp-auth: the tenant resolver failed')
      throw reject.unavailable('resolver.failed', err)
    }
    try {
      const resource = describeTenant(tenancy, key, params, descriptor)
      if (resource !== undefined) options.checkResource?.(resource)
      return resource
    } catch (err) {
      // The message names the field; it never holds a token.
      logger.error({ tenant: key, err: describeError(err) }, 'mcp-auth: the tenant resolver returned an invalid descriptor')
      throw reject.unavailable('resolver.invalid_descriptor', err)
    }
  }

  const cache = createTenantCache({
    load,
    cacheTtlMs: tenancy.cacheTtl * 1000,
    negativeCacheTtlMs: tenancy.negativeCacheTtl * 1000,
    maxEntries: tenancy.maxEntries,
    nowMs: options.nowMs,
  })

  function challengeAt (key: string): ChallengeResource {
    return { uri: origin + key, metadataUrl: origin + PROTECTED_RESOURCE_WELL_KNOWN + key, scopesSupported: undefined }
  }

  return {
    options: tenancy,
    async resourceFor (params, request) {
      const tenant = path.tenantOf(params)
      return tenant === undefined ? undefined : cache.lookup(tenant.key, tenant.params, request)
    },
    unknown: (params) => challengeAt(path.pathOf(params)),
    byUri (uri) {
      const key = uri.slice(origin.length)
      return cache.peek(key) ?? challengeAt(key)
    },
    invalidate (params) {
      const values = typeof params === 'object' && params !== null ? params as Record<string, unknown> : {}
      const missing = path.names.filter((n) => typeof values[n] !== 'string')
      if (missing.length > 0) {
        throw invalidSetting(`fastify.mcpAuth.invalidate(params) needs the parameters "${path.pattern}" names, as strings: missing ${missing.join(', ')}`)
      }
      // A value tenantPattern refuses was never asked for, so nothing is held for it.
      const tenant = path.tenantOf(params)
      if (tenant === undefined) return
      const held = cache.peek(tenant.key)
      cache.invalidate(tenant.key)
      options.tokens?.forgetAudiences(held?.audienceKeys ?? new Set([audienceKey(origin + tenant.key) as string]))
    },
  }
}

/** The resolver's answer, or a rejection once `timeoutMs` passed without one. */
async function withTimeout<T> (call: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
