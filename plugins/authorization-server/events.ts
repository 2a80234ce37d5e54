// oidc-provider's events, mapped to the suite's event vocabulary and handed to
// `onEvent`; server errors are logged. Events carry who and what, never a
// token, a code or a secret.
import type Provider from 'oidc-provider'
import type { FastifyBaseLogger } from 'fastify'
import type { ResolvedAsOptions } from '../../lib/authorization-server/options.js'
import { isReplayedProof } from '../../lib/authorization-server/dpop-replay.js'
import { describeError } from '../../lib/logger.js'
import type { AuthorizationServerEvent } from '../../types/authorization-server.js'

type Ctx = { oidc?: { client?: { clientId: string }, session?: { accountId?: string }, params?: Record<string, unknown> } } | undefined

function who (ctx: Ctx): Pick<AuthorizationServerEvent, 'clientId' | 'subject'> {
  const out: Pick<AuthorizationServerEvent, 'clientId' | 'subject'> = {}
  const clientId = ctx?.oidc?.client?.clientId
  if (clientId !== undefined) out.clientId = clientId
  const subject = ctx?.oidc?.session?.accountId
  if (subject !== undefined) out.subject = subject
  return out
}

function grantType (ctx: Ctx): Pick<AuthorizationServerEvent, 'grantType'> {
  const value = ctx?.oidc?.params?.grant_type
  return typeof value === 'string' ? { grantType: value } : {}
}

export function subscribeEvents (provider: Provider, options: ResolvedAsOptions, log: FastifyBaseLogger): void {
  const emit = (event: AuthorizationServerEvent): void => {
    const onEvent = options.onEvent
    if (onEvent === undefined) return
    const failed = (err: unknown): void => { log.error({ err: describeError(err) }, 'mcp-authorization-server: onEvent threw') }
    try {
      const result: unknown = onEvent(event)
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, failed)
    } catch (err) {
      failed(err)
    }
  }
  provider.on('grant.success', (ctx: Ctx) => emit({ type: 'token.issued', ...who(ctx), ...grantType(ctx) }))
  provider.on('grant.error', (ctx: Ctx, err: { error?: string, error_description?: string }) => {
    const reused = /refresh token already used/.test(err.error_description ?? '') || /already used/.test(String((err as Error).message))
    const error = isReplayedProof(err) ? 'invalid_dpop_proof' : err.error ?? 'server_error'
    emit({ type: reused && grantType(ctx).grantType === 'refresh_token' ? 'refresh_token.reused' : 'token.refused', ...who(ctx), ...grantType(ctx), error })
  })
  provider.on('authorization.success', (ctx: Ctx) => emit({ type: 'authorization.granted', ...who(ctx) }))
  provider.on('authorization.error', (ctx: Ctx, err: { error?: string }) => emit({ type: 'authorization.denied', ...who(ctx), error: err.error ?? 'server_error' }))
  provider.on('registration_create.success', (_ctx: Ctx, client: { clientId: string }) => emit({ type: 'client.registered', clientId: client.clientId }))
  provider.on('grant.revoked', (ctx: Ctx) => emit({ type: 'grant.revoked', ...who(ctx) }))
  provider.on('server_error', (ctx: Ctx, err: unknown) => {
    log.error({ err: describeError(err), clientId: ctx?.oidc?.client?.clientId }, 'mcp-authorization-server: server error')
    emit({ type: 'server_error', ...who(ctx) })
  })
}
