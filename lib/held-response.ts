// Holds a Node HTTP response's head, and whatever is written after it, while an
// asynchronous decision about that head is pending. It works under code that
// writes to the response directly (an MCP SDK transport after reply.hijack()),
// which no framework hook sees: the first writeHead, write, end or flushHeaders
// asks `inspect`; a promise holds every write until it settles, then they are
// replayed in order, or dropped for `refuse`'s response.
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'

export interface ResponseHead {
  readonly statusCode: number
  /** A header of the head about to be written: writeHead's argument first, then setHeader's. */
  header (name: string): string | undefined
}

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders'
const METHODS: readonly Method[] = ['writeHead', 'write', 'end', 'flushHeaders']
type Methods = Record<Method, (...args: unknown[]) => unknown>

/**
 * `inspect(head)` returns undefined to let the response go on as it is, or a
 * promise: fulfilled → the held writes go out; rejected → they are dropped and
 * `refuse(err)` writes another response (the held writes' callbacks are not called).
 */
export function holdResponseHead (
  res: ServerResponse | Http2ServerResponse,
  inspect: (head: ResponseHead) => Promise<void> | undefined,
  refuse: (err: unknown) => void
): void {
  const target = res as unknown as Methods
  // Own properties already there (another wrapper) come back when we step aside.
  const own = new Map<Method, Methods[Method]>()
  for (const method of METHODS) if (Object.hasOwn(res, method)) own.set(method, target[method])
  let held: Array<{ method: Method, args: unknown[] }> | undefined

  function release (): void {
    for (const method of METHODS) {
      const previous = own.get(method)
      if (previous === undefined) delete (target as Partial<Methods>)[method]
      else target[method] = previous
    }
  }

  function intercept (method: Method, args: unknown[]): unknown {
    if (held !== undefined) {
      held.push({ method, args })
      return stand(method)
    }
    let pending: Promise<void> | undefined
    try {
      pending = inspect(headOf(res, method, args))
    } catch (err) {
      pending = Promise.reject(err)
    }
    if (pending === undefined) {
      release()
      return target[method](...args)
    }
    const queue = held = [{ method, args }]
    pending.then(() => {
      release()
      try {
        for (const write of queue) target[write.method](...write.args)
      } catch (err) {
        res.destroy(err as Error)
      }
    }, (err: unknown) => {
      release()
      refuse(err)
    })
    return stand(method)
  }

  // What each method returns while held: writeHead and end chain, write reports no
  // back-pressure (the held head is small: an initialize answer).
  function stand (method: Method): unknown {
    if (method === 'write') return true
    if (method === 'flushHeaders') return undefined
    return res
  }

  for (const method of METHODS) target[method] = (...args: unknown[]) => intercept(method, args)
}

function headOf (res: ServerResponse | Http2ServerResponse, method: Method, args: unknown[]): ResponseHead {
  const given = method === 'writeHead' ? headersArgument(args) : undefined
  return {
    statusCode: method === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode,
    header (name) {
      const value = given === undefined ? undefined : findHeader(given, name)
      return text(value !== undefined ? value : res.getHeader(name))
    },
  }
}

// writeHead(status[, statusMessage][, headers]): headers is an object or a flat [name, value, …] array.
function headersArgument (args: unknown[]): object | undefined {
  const headers = typeof args[1] === 'string' ? args[2] : args[1]
  return typeof headers === 'object' && headers !== null ? headers : undefined
}

function findHeader (headers: object, name: string): unknown {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return headers[i + 1]
    }
    return undefined
  }
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value
  return undefined
}

function text (value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}
