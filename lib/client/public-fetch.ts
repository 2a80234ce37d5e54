// A fetch that only ever connects to public addresses: the name is resolved
// inside the connection (Node's `lookup` hook), so the address checked is the
// address used and a resolver that changes its answer (DNS rebinding) gains nothing.
import { lookup as dnsLookup } from 'node:dns'
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns'
import { request as httpRequest } from 'node:http'
import type { IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { fail } from './errors.js'
import { isSpecialUseAddress, literalAddress } from './network.js'

/** The `fetch` shape the client uses everywhere (the global `fetch` satisfies it). */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

function refused (host: string): Error {
  return fail.outbound('outbound.private_address', `refused to connect to ${host}: it is (or resolves to) a loopback, private, link-local or other special-use address (allowPrivateNetworks is off)`)
}

type AddressPolicy = (address: string) => boolean

/** A `lookup` for node:net that fails when any address of the name is refused. */
export function addressCheckingLookup (refuse: AddressPolicy) {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) {
        callback(err, [])
        return
      }
      // One refused answer taints the name: a mixed answer is how rebinding starts.
      if (addresses.length === 0 || addresses.some((a) => refuse(a.address))) {
        callback(refused(hostname) as NodeJS.ErrnoException, [])
        return
      }
      if (options.all === true) {
        callback(null, addresses)
        return
      }
      const [first] = addresses as [LookupAddress]
      callback(null, first.address, first.family)
    })
  }
}

async function bodyBytes (body: RequestInit['body'], headers: Headers): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof Uint8Array) return Buffer.from(body)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  // Streams, blobs, forms and search params: let Response serialize them (and name their type).
  const response = new Response(body)
  const type = response.headers.get('content-type')
  if (type !== null && !headers.has('content-type')) headers.set('content-type', type)
  return Buffer.from(await response.arrayBuffer())
}

function toResponse (message: IncomingMessage, method: string): Response {
  const headers = new Headers()
  const raw = message.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string)
  const status = message.statusCode ?? 502
  const empty = status === 204 || status === 205 || status === 304 || method === 'HEAD'
  if (empty) message.resume()
  const body = empty ? null : Readable.toWeb(message) as NodeReadableStream as unknown as ReadableStream
  return new Response(body, { status, statusText: message.statusMessage, headers })
}

/**
 * `fetch` over node:http(s) that refuses the addresses `refuse` names, whether
 * the URL spells one or a name resolves to one. Redirects are never followed
 * (the 3xx is the response). Response bodies stream, so it also carries MCP's SSE.
 */
export function addressCheckingFetch (refuse: AddressPolicy): FetchFunction {
  const lookup = addressCheckingLookup(refuse)
  return async (input, init = {}) => {
    const request = input instanceof Request ? input : undefined
    const url = new URL(request?.url ?? String(input))
    const literal = literalAddress(url.hostname)
    if (literal !== undefined && refuse(literal)) throw refused(url.hostname)
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase()
    const headers = new Headers(init.headers ?? request?.headers)
    const body = await bodyBytes(init.body ?? (request?.body as RequestInit['body']), headers)
    const signal = init.signal ?? request?.signal ?? undefined
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    return await new Promise<Response>((resolve, reject) => {
      const outgoing = send(url, { method, headers: Object.fromEntries(headers), lookup, signal }, (message) => {
        resolve(toResponse(message, method))
      })
      outgoing.once('error', reject)
      outgoing.end(body)
    })
  }
}

/** The transport when private networks are refused: special-use addresses are never reached. */
export const publicAddressFetch: FetchFunction = addressCheckingFetch(isSpecialUseAddress)
