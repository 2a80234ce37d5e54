// Every request the client sends goes through here. Requests the remote side
// chose the URL of (metadata, registration, token, revocation endpoints) get all
// the guards: https (http only for loopback), the caller's `allowUrl`, no
// redirects, a timeout and a response-size cap. The MCP request itself streams.
import { isLoopbackHost } from '../resource.js'
import { FetchFailure } from '../fetch-failure.js'
import { readCapped } from '../http.js'
import { fail, isMcpClientError } from './errors.js'
import type { FetchFunction } from './public-fetch.js'

export interface OutboundOptions {
  /** Sends the request: the caller's fetch, the global one, or publicAddressFetch. */
  readonly fetch: FetchFunction
  readonly timeoutMs: number
  readonly maxBytes: number
  readonly allowUrl: ((url: URL) => boolean | Promise<boolean>) | undefined
}

export interface Outbound {
  /** An OAuth or discovery request (oauth4webapi's customFetch shape): guarded, bounded, buffered. */
  oauth (url: string, init: RequestInit): Promise<Response>
  /** The MCP request: `allowUrl` applies; the body streams and no timeout is imposed. */
  resource (url: string, init: RequestInit): Promise<Response>
}

/** https anywhere, http only on loopback (MCP "Communication Security", RFC 9700 §2.6). */
export function isSecureUrl (url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}

export function createOutbound (options: OutboundOptions): Outbound {
  const { fetch, timeoutMs, maxBytes, allowUrl } = options

  async function allowed (url: URL): Promise<void> {
    if (allowUrl === undefined) return
    let verdict: boolean
    try {
      verdict = await allowUrl(new URL(url))
    } catch (err) {
      throw fail.outbound('outbound.url_refused', `allowUrl threw for ${url.origin}${url.pathname}`, err)
    }
    if (verdict !== true) throw fail.outbound('outbound.url_refused', `allowUrl refused ${url.origin}${url.pathname}`)
  }

  return {
    async oauth (input, init) {
      const url = new URL(input)
      if (!isSecureUrl(url)) {
        throw fail.outbound('outbound.scheme', `refused ${url.origin}${url.pathname}: OAuth and discovery requests use https (http only for loopback)`)
      }
      await allowed(url)
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = init.signal == null ? timeout : AbortSignal.any([init.signal, timeout])
      const where = `${url.origin}${url.pathname}`
      let response: Response
      try {
        response = await fetch(url.href, { ...init, redirect: 'manual', signal })
      } catch (err) {
        if (isMcpClientError(err)) throw err
        if (timeout.aborted) throw fail.outbound('outbound.timeout', `no answer from ${where} within ${timeoutMs / 1000} s`, err)
        throw fail.outbound('outbound.failed', `request to ${where} failed`, err)
      }
      // A redirect would move the request to a URL nobody checked.
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel()
        throw fail.outbound('outbound.redirect', `${where} answered with a redirect (${response.status}); redirects are not followed`)
      }
      let body: Buffer
      try {
        body = await readCapped(response, maxBytes)
      } catch (err) {
        if (err instanceof FetchFailure && err.failure === 'too_large') throw fail.outbound('outbound.too_large', `the response from ${where} exceeds ${maxBytes} bytes`, err)
        if (timeout.aborted) throw fail.outbound('outbound.timeout', `no answer from ${where} within ${timeoutMs / 1000} s`, err)
        throw fail.outbound('outbound.failed', `reading the response from ${where} failed`, err)
      }
      const empty = response.status === 204 || response.status === 205
      return new Response(empty ? null : new Uint8Array(body), { status: response.status, statusText: response.statusText, headers: response.headers })
    },

    async resource (input, init) {
      const url = new URL(input)
      await allowed(url)
      return await fetch(url.href, init)
    },
  }
}
