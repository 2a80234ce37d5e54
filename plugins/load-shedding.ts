// Load shedding before any signature work, with @fastify/under-pressure
// (imported only when `underPressure` is set, so the root entry stays light).
// One instance sheds load: the app's own, when it registers under-pressure in
// this context before or after mcpAuth; else the one mcpAuth registers. Ours
// lives in a context of its own, so its decorators never collide with an app
// registering under-pressure after mcpAuth, and mcpAuth's onRequest hook asks
// it before the authentication hook runs.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { reject } from '../lib/errors.js'
import { challengeResourceOf, resourceOf } from './authenticate.js'
import type { RouteConfig } from './authenticate.js'
import { sendOAuthError } from './reply.js'
import type { McpAuthState } from './state.js'

const UNDER_PRESSURE = '@fastify/under-pressure'

interface Monitor {
  isUnderPressure (): boolean
  memoryUsage (): unknown
}

export async function registerLoadShedding (fastify: FastifyInstance, state: McpAuthState): Promise<void> {
  const options = state.options.underPressure
  if (options === undefined) return
  if (fastify.hasPlugin(UNDER_PRESSURE)) {
    fastify.log.info('mcp-auth: @fastify/under-pressure is already registered; its instance sheds load, so underPressure registers nothing')
    return
  }
  const { default: underPressure } = await import('@fastify/under-pressure')
  let monitor: Monitor | undefined
  await fastify.register(async function mcpAuthLoadMonitor (child) {
    // No hook of its own here: no route lives in this context.
    await child.register(underPressure, { ...options })
    monitor = child as unknown as Monitor
  })
  let shedding = true
  fastify.addHook('onReady', async function checkOtherInstance () {
    if (!fastify.hasPlugin(UNDER_PRESSURE)) return
    shedding = false
    fastify.log.info('mcp-auth: @fastify/under-pressure was registered after mcpAuth; that instance sheds load, mcpAuth\'s stays idle (register it before mcpAuth to shed before any signature work)')
  })

  // A callback hook: a healthy process pays no promise per request.
  fastify.addHook('onRequest', function mcpAuthShedLoad (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (!shedding || monitor?.isUnderPressure() !== true) {
      done()
      return
    }
    request.log.warn({ memoryUsage: monitor.memoryUsage() }, 'mcp-auth: shedding load')
    const config = request.routeOptions.config as RouteConfig
    const resource = challengeResourceOf(state, request, config, resourceOf(state, request, config))
    // The same OAuth-style 503 as every other outage (errorRenderer applies); the reply is sent, so no done().
    sendOAuthError(state, request, reply, reject.unavailable('overloaded'), resource, undefined).then(() => {}, done)
  })
}
