// The authorizer for command-line and desktop clients (RFC 8252 §7.3): a
// listener on 127.0.0.1 that takes exactly one callback carrying the state of
// the authorization it waits for, then closes. Showing the URL to the user is
// the caller's `open`; this module never starts a browser.
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { invalidSetting } from '../errors.js'
import type { Authorizer, LoopbackAuthorizerOptions } from '../../types/client.js'
import { fail } from './errors.js'

interface Waiter {
  readonly resolve: (url: URL) => void
  readonly reject: (err: Error) => void
}

const PAGE_DONE = '<!doctype html><meta charset="utf-8"><title>Authorization complete</title><p>Authorization complete. You can close this window.</p>'
const PAGE_UNKNOWN = '<!doctype html><meta charset="utf-8"><title>Unknown authorization</title><p>This authorization response does not belong to a pending sign-in.</p>'

export function loopbackAuthorizer (options: LoopbackAuthorizerOptions): Authorizer {
  if (typeof options !== 'object' || options === null) throw invalidSetting('loopbackAuthorizer(options): options must be { port, open }')
  const { port, path = '/callback', open, timeout = 300 } = options
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidSetting(`loopbackAuthorizer: port must be a fixed port between 1 and 65535 (the redirect URI is registered with it); got ${String(port)}`)
  }
  if (typeof path !== 'string' || !path.startsWith('/') || path.includes('?') || path.includes('#')) {
    throw invalidSetting('loopbackAuthorizer: path must be a path such as "/callback"')
  }
  if (typeof open !== 'function') throw invalidSetting('loopbackAuthorizer: open(url) is required (it shows the URL or starts a browser; the authorizer never does)')
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw invalidSetting('loopbackAuthorizer: timeout must be a positive number of seconds')

  const origin = `http://127.0.0.1:${port}`
  const waiters = new Map<string, Waiter>()
  let listening: Promise<Server> | undefined

  function listen (): Promise<Server> {
    listening ??= new Promise<Server>((resolve, reject) => {
      const server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', origin)
        const waiter = req.method === 'GET' && url.pathname === path ? waiters.get(url.searchParams.get('state') ?? '') : undefined
        res.setHeader('cache-control', 'no-store')
        res.setHeader('content-type', 'text/html; charset=utf-8')
        if (waiter === undefined) {
          // A stray or forged request does not end the wait: only the matching state does.
          res.writeHead(url.pathname === path ? 400 : 404).end(PAGE_UNKNOWN)
          return
        }
        res.writeHead(200).end(PAGE_DONE)
        waiter.resolve(url)
      })
      server.once('error', (err) => {
        listening = undefined
        reject(err)
      })
      // 127.0.0.1 only: never reachable from another machine.
      server.listen(port, '127.0.0.1', () => resolve(server))
    })
    return listening
  }

  async function closeIfIdle (): Promise<void> {
    if (waiters.size > 0 || listening === undefined) return
    const server = await listening.catch(() => undefined)
    listening = undefined
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }

  const authorize = async (authorizationUrl: URL, context: { state: string }): Promise<URL> => {
    try {
      await listen()
    } catch (err) {
      throw fail.authorization('authorization.authorizer_failed', `loopbackAuthorizer: cannot listen on ${origin}`, { cause: err })
    }
    const result = new Promise<URL>((resolve, reject) => {
      const timer = setTimeout(() => {
        settle()
        reject(fail.authorization('authorization.timeout', `no authorization callback within ${timeout} s`))
      }, timeout * 1000)
      const settle = (): void => {
        clearTimeout(timer)
        waiters.delete(context.state)
      }
      waiters.set(context.state, {
        resolve: (url) => { settle(); resolve(url) },
        reject: (err) => { settle(); reject(err) },
      })
    })
    try {
      await open(new URL(authorizationUrl.href))
    } catch (err) {
      waiters.get(context.state)?.reject(fail.authorization('authorization.authorizer_failed', 'loopbackAuthorizer: open(url) failed', { cause: err }))
    }
    try {
      return await result
    } finally {
      await closeIfIdle()
    }
  }
  return Object.assign(authorize, { redirectUri: `${origin}${path}` })
}
