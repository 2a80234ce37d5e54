// How many issuer metadata and JWKS fetches run at once, across issuers: with
// an issuer per tenant, a burst of new tenants must not open a connection per
// tenant. Beyond the limit a fetch waits its turn, at most `waitMs`; then it
// fails as a timeout (a 503 for the request behind it), never a pass.
import { FetchFailure } from './fetch-failure.js'

export interface FetchLimit {
  /** Runs `fetch` once a slot is free. */
  run<T> (fetch: () => Promise<T>, signal?: AbortSignal): Promise<T>
}

export function createFetchLimit (max: number, waitMs: number): FetchLimit {
  let running = 0
  const waiting: Array<() => void> = []

  function release (): void {
    const next = waiting.shift()
    if (next === undefined) running--
    else next()
  }

  function slot (signal: AbortSignal | undefined): Promise<void> {
    if (running < max) {
      running++
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const give = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', abort)
        resolve()
      }
      const leave = (err: Error): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', abort)
        waiting.splice(waiting.indexOf(give), 1)
        reject(err)
      }
      const abort = (): void => leave(new FetchFailure('aborted', 'the app is closing'))
      const timer = setTimeout(() => leave(new FetchFailure('timeout', `no fetch slot within ${waitMs} ms (${max} issuer fetches in flight)`)), waitMs)
      signal?.addEventListener('abort', abort, { once: true })
      waiting.push(give)
    })
  }

  return {
    async run (fetch, signal) {
      await slot(signal)
      try {
        return await fetch()
      } finally {
        release()
      }
    },
  }
}
