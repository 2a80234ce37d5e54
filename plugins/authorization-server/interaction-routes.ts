// The login and consent route: GET renders the host's page, POST runs the
// host's handler after the plugin's checks (the interaction cookie, the CSRF
// token bound to the interaction, the failed-login limit). Every answer carries
// the headers that keep the page out of frames and caches.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type Provider from 'oidc-provider'
import type { CsrfTokens } from '../../lib/authorization-server/csrf.js'
import type { ResolvedAsOptions } from '../../lib/authorization-server/options.js'
import { INTERACTION_PATH } from '../../lib/authorization-server/provider-configuration.js'
import { describeError } from '../../lib/logger.js'
import type { ConsentDetails, InteractionClient, LoginDetails } from '../../types/authorization-server.js'
import { PUBLIC_ROUTE } from './provider-routes.js'
import type { RateLimitStoreClass } from '../../lib/authorization-server/rate-limit-store.js'
import { isRateLimitStoreFailure, rateLimitOptions } from './rate-limit.js'

export interface InteractionRoutesOptions {
  options: ResolvedAsOptions
  provider: Provider
  csrf: CsrfTokens
  /** Counters on redisAdapter's Redis; undefined: in this process. */
  rateLimitStore: RateLimitStoreClass | undefined
}

const SECURITY_HEADERS = Object.freeze({
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'; default-src 'self'",
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
})

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>

function problem (reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(text)
}

async function clientOf (provider: Provider, interaction: Interaction): Promise<InteractionClient> {
  const clientId = String(interaction.params.client_id)
  const client = await provider.Client.find(clientId)
  // The provider has checked redirect_uri against the client before any interaction.
  const redirectUri = String(interaction.params.redirect_uri)
  const redirectHost = URL.parse(redirectUri)?.host ?? ''
  const name = typeof client?.clientName === 'string' && client.clientName !== '' ? client.clientName : clientId
  return { clientId, name, redirectUri, redirectHost, metadataDocument: (client as { clientIdMetadataDocument?: boolean } | undefined)?.clientIdMetadataDocument === true }
}

function requestedList (value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String)
  return typeof value === 'string' && value !== '' ? value.split(' ') : []
}

// Grants what the provider reports missing: OpenID scopes and claims, and per
// resource the requested scopes (already limited to what the resource allows),
// narrowed to `allowed` when the host passes a list.
async function saveGrant (provider: Provider, interaction: Interaction, accountId: string, allowed: readonly string[] | undefined): Promise<string> {
  const clientId = String(interaction.params.client_id)
  const grant = interaction.grantId === undefined
    ? new provider.Grant({ accountId, clientId })
    : await provider.Grant.find(interaction.grantId) ?? new provider.Grant({ accountId, clientId })
  const details = interaction.prompt.details as { missingOIDCScope?: string[], missingOIDCClaims?: string[], missingResourceScopes?: Record<string, string[]> }
  // What the user declines is recorded as rejected, so the provider does not ask again.
  const split = (scopes: readonly string[]): [string, string] => [
    scopes.filter((s) => allowed === undefined || allowed.includes(s)).join(' '),
    scopes.filter((s) => allowed !== undefined && !allowed.includes(s)).join(' '),
  ]
  const [oidcGranted, oidcRejected] = split(details.missingOIDCScope ?? [])
  if (oidcGranted !== '') grant.addOIDCScope(oidcGranted)
  if (oidcRejected !== '') grant.rejectOIDCScope(oidcRejected)
  if (details.missingOIDCClaims !== undefined) grant.addOIDCClaims(details.missingOIDCClaims)
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    const [granted, rejected] = split(scopes)
    if (granted !== '') grant.addResourceScope(indicator, granted)
    if (rejected !== '') grant.rejectResourceScope(indicator, rejected)
  }
  return grant.save()
}

const interactionRoutes: FastifyPluginAsync<InteractionRoutesOptions> = async function interactionRoutes (fastify: FastifyInstance, { options, provider, csrf, rateLimitStore }) {
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
  fastify.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS)
  })
  // A host callback's (or the provider's) error message never reaches the browser.
  fastify.setErrorHandler(async (error, request, reply) => {
    const status = (error as { statusCode?: number }).statusCode
    if (status === 429) return reply.send(error)
    if (isRateLimitStoreFailure(error)) {
      request.log.error({ err: describeError(error) }, 'mcp-authorization-server: rate-limit counters unavailable')
      return problem(reply.header('retry-after', '5'), 503, 'Sign-in is unavailable for a moment. Try again in a few seconds.')
    }
    request.log.error({ err: describeError(error) }, 'mcp-authorization-server: interaction failed')
    return problem(reply, 500, 'Sign-in could not be completed. Start again from the application.')
  })

  const limits = options.rateLimit
  let failedLogins: ((request: FastifyRequest, call?: { increment?: boolean }) => Promise<{ isAllowed: true } | { isAllowed: false, remaining: number }>) | undefined
  const loginAccount = new WeakMap<FastifyRequest, string>()
  if (limits !== undefined) {
    await fastify.register(rateLimit, rateLimitOptions(rateLimitStore))
    failedLogins = fastify.createRateLimit({
      max: limits.failedLoginsPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => `failed-login:${String(loginAccount.get(request))}`,
    })
  }

  const config: Record<string, unknown> = { ...PUBLIC_ROUTE }
  if (limits !== undefined) config.rateLimit = { max: limits.interactionsPerMinute, timeWindow: 60_000 }

  fastify.route({
    method: ['GET', 'POST'],
    url: `${options.mountPath}${INTERACTION_PATH}/:uid`,
    config,
    async handler (request, reply) {
      const { uid } = request.params as { uid: string }
      let interaction: Interaction
      try {
        interaction = await provider.interactionDetails(request.raw, reply.raw)
      } catch (err) {
        request.log.info({ err: describeError(err) }, 'mcp-authorization-server: interaction not found')
        return problem(reply, 400, 'This sign-in link has expired or was opened in another browser. Start again from the application.')
      }
      if (interaction.uid !== uid) return problem(reply, 400, 'This sign-in link does not match the current sign-in.')
      const body = request.body as Record<string, unknown> | undefined
      if (request.method === 'POST' && !csrf.check(uid, body?.csrf)) {
        return problem(reply, 403, 'The form has expired. Go back and try again.')
      }
      const finish = async (result: Record<string, unknown>): Promise<void> => {
        const returnTo = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false })
        await reply.code(303).header('location', returnTo).send()
      }
      const base = {
        uid,
        client: await clientOf(provider, interaction),
        scopes: requestedList(interaction.params.scope),
        resources: requestedList(interaction.params.resource),
        csrfToken: csrf.issue(uid),
        deny: (description?: string) => finish({ error: 'access_denied', error_description: description ?? 'the request was denied' }),
      }

      if (interaction.prompt.name === 'login') {
        const claimed = typeof body?.username === 'string' ? body.username : undefined
        if (request.method === 'POST' && claimed !== undefined && failedLogins !== undefined) {
          loginAccount.set(request, claimed)
          // A peek: only failures count, and the account is locked once they reach the limit.
          const verdict = await failedLogins(request, { increment: false })
          if (!verdict.isAllowed && verdict.remaining === 0) return problem(reply.header('retry-after', '60'), 429, 'Too many failed sign-ins for this account. Wait a minute and try again.')
        }
        const details: LoginDetails = {
          ...base,
          prompt: 'login',
          async complete ({ accountId }) {
            // Fail closed: only an account the host knows may be signed in.
            const account = await options.accounts.find(accountId)
            if (account === undefined) throw new Error(`mcp-authorization-server: accounts.find does not know the account ${JSON.stringify(accountId)}`)
            await finish({ login: { accountId } })
          },
          async failed (accountId) {
            if (failedLogins === undefined) return
            loginAccount.set(request, accountId)
            await failedLogins(request)
          },
        }
        return options.interactions.login(request, reply, details)
      }
      if (interaction.prompt.name === 'consent') {
        const accountId = interaction.session?.accountId
        if (accountId === undefined) return problem(reply, 400, 'No one is signed in for this request.')
        const details: ConsentDetails = {
          ...base,
          prompt: 'consent',
          accountId,
          async grant (result) {
            const grantId = await saveGrant(provider, interaction, accountId, result?.scopes)
            await finish({ consent: { grantId } })
          },
        }
        return options.interactions.consent(request, reply, details)
      }
      return problem(reply, 400, `Unsupported interaction ${interaction.prompt.name}.`)
    },
  })
}

export default interactionRoutes
