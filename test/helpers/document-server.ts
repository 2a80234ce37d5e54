// A loopback HTTPS server for Client ID Metadata Documents (certificate from a
// throwaway CA) and the fetch an authorization server needs to reach it: it
// trusts only that CA and bypasses the address policy, so it is for tests only.
import { request as httpsRequest, createServer } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { createTestCa } from '../../testing.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]
export type DocumentHandler = (req: IncomingMessage, res: ServerResponse) => void

export interface DocumentServer {
  /** https://127.0.0.1:<port> */
  origin: string
  /** Pass as the provider's `fetch` (through the `configure` option). */
  fetch (url: string | URL, init?: RequestInit): Promise<Response>
  requests (): number
}

/** Serves `documents` (path → JSON) unless `handler` answers instead. Closed at the end of the test. */
export async function startDocumentServer (t: Test, handler?: DocumentHandler, documents = new Map<string, unknown>()): Promise<DocumentServer> {
  const ca = await createTestCa()
  const { certificatePem, keyPem } = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })
  let requests = 0
  const server = createServer({ cert: certificatePem, key: keyPem }, (req, res) => {
    requests++
    if (handler !== undefined) return handler(req, res)
    const body = documents.get(req.url ?? '')
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  // The provider's own limits stay: its abort signal (2.5 s) and its body-size check.
  const fetch = (url: string | URL, init: RequestInit = {}): Promise<Response> => new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method ?? 'GET', ca: ca.certificatePem, signal: init.signal ?? undefined, headers: Object.fromEntries(new Headers(init.headers)) }, (res) => {
      resolve(new Response(Readable.toWeb(res) as ReadableStream, { status: res.statusCode, headers: res.headers as Record<string, string> }))
    })
    req.on('error', reject)
    req.end()
  })
  return { origin, fetch, requests: () => requests }
}
