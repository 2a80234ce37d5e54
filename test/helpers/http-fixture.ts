// A scripted HTTP server on 127.0.0.1 for the client's unit tests: each test
// answers the paths it cares about and reads back every request it got.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

export interface SeenRequest {
  readonly method: string
  readonly path: string
  readonly url: URL
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

export type Route = (request: SeenRequest, res: ServerResponse) => void | Promise<void>

export interface Fixture {
  readonly origin: string
  readonly requests: SeenRequest[]
  /** Answers `METHOD /path` (query ignored) from now on. */
  on (method: string, path: string, route: Route): void
  /** Paths requested, as `METHOD /path`. */
  paths (): string[]
}

export function json (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

export async function startFixture (t: Test): Promise<Fixture> {
  const routes = new Map<string, Route>()
  const requests: SeenRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin)
      const seen: SeenRequest = { method: req.method ?? 'GET', path: url.pathname, url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(seen)
      const route = routes.get(`${seen.method} ${seen.path}`)
      if (route === undefined) {
        json(res, 404, { error: 'not_found' })
        return
      }
      Promise.resolve(route(seen, res)).catch((err: Error) => {
        if (!res.headersSent) json(res, 500, { error: err.message })
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  }))
  return {
    origin,
    requests,
    on (method, path, route) { routes.set(`${method} ${path}`, route) },
    paths: () => requests.map((r) => `${r.method} ${r.path}`),
  }
}
