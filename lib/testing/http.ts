// How the helpers reach a server: app.inject, or node:https with a chosen
// client certificate (inject has no TLS socket), every request bounded by the
// helper's timeout and reported as the step it belonged to.
import type { IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { assertionError } from './report.js'
import type { Context } from './report.js'
import type { HttpResponseLike, Injectable, InjectRequest } from './exchange.js'

/** Sends one request; `signal` aborts it when the helper's timeout passes. */
export type Transport = (request: InjectRequest, signal: AbortSignal) => Promise<HttpResponseLike>

export const DEFAULT_TIMEOUT = 10_000

export const injectTransport = (app: Injectable): Transport => async (request) => app.inject(request)

export interface TlsClient {
  /** The server's base URL; request URLs resolve against it. */
  readonly base: URL
  /** PEM that verifies the server's certificate. */
  readonly ca: string | readonly string[]
  readonly certificate?: { readonly certificatePem: string, readonly keyPem: string }
}

/** node:https, one fresh connection per request (a pooled one would carry another certificate). */
export function httpsTransport (client: TlsClient): Transport {
  return (req, signal) => new Promise((resolve, reject) => {
    const headers = { ...req.headers }
    let body: string | Buffer | undefined
    if (typeof req.payload === 'string' || Buffer.isBuffer(req.payload)) {
      body = req.payload
    } else if (req.payload !== undefined) {
      body = JSON.stringify(req.payload)
      headers['content-type'] ??= 'application/json'
    }
    const outgoing = httpsRequest(new URL(req.url, client.base), {
      method: req.method,
      headers,
      ca: [client.ca].flat(),
      agent: false,
      signal,
      ...(client.certificate === undefined ? {} : { cert: client.certificate.certificatePem, key: client.certificate.keyPem }),
    }, (res: IncomingMessage) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { data += chunk })
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: data }))
      res.on('error', reject)
    })
    outgoing.on('error', reject)
    outgoing.end(body)
  })
}

/** A step as the failure message names it. */
export interface Step {
  readonly step: string
  readonly note?: string
  /** What to check when the request itself fails (no answer, TLS refused). */
  readonly failureHint?: string
}

/** One helper's conversation with the server: its name, its transport and its timeout. */
export class Exchange {
  readonly helper: string
  readonly #transport: Transport
  readonly #timeout: number

  constructor (helper: string, transport: Transport, timeout: number | undefined) {
    const ms = timeout ?? DEFAULT_TIMEOUT
    if (!(typeof ms === 'number' && ms > 0 && Number.isFinite(ms))) {
      throw new TypeError(`${helper}: timeout must be a positive number of milliseconds; got ${String(timeout)}`)
    }
    this.helper = helper
    this.#transport = transport
    this.#timeout = ms
  }

  context (step: Step, request?: InjectRequest): Context {
    return { helper: this.helper, step: step.step, request, note: step.note }
  }

  /** Sends one request; no answer within the timeout, or a failed request, is an AssertionError naming the step. */
  async send (step: Step, request: InjectRequest, transport: Transport = this.#transport): Promise<HttpResponseLike> {
    const controller = new AbortController()
    let timer: NodeJS.Timeout | undefined
    let timedOut: Error | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        controller.abort()
        timedOut = assertionError(this.context(step, request), [`no answer within ${this.#timeout} ms`], {
          hint: 'does a hook wait on something that never answers (a JWKS or discovery fetch, a replay store, a nonce provider)? If the server is only slow, raise `timeout`',
        })
        reject(timedOut)
      }, this.#timeout)
    })
    try {
      return await Promise.race([transport(request, controller.signal), late])
    } catch (err) {
      if (err === timedOut) throw err
      const failure = assertionError(this.context(step, request), [`the request failed: ${String((err as Error)?.message ?? err).trim()}`], { hint: step.failureHint })
      failure.cause = err
      throw failure
    } finally {
      clearTimeout(timer)
    }
  }
}
