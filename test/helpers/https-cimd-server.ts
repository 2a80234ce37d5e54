// A loopback HTTPS server hosting Client ID Metadata Documents, with a certificate from a
// throwaway CA, and the fetch an authorization server needs to reach it (tests only: the
// production fetch refuses loopback addresses).
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { Agent, fetch as undiciFetch } from 'undici'
import { createTestCa } from '../../lib/testing/certificates.js'

export interface CimdServer {
  /** `https://127.0.0.1:<port>` */
  readonly origin: string
  /** The test CA's certificate (PEM), the only one that trusts this server. */
  readonly caPem: string
  /** Serves `document` as JSON at `path`; its `client_id` must be `origin + path`. */
  host (path: string, document: Record<string, unknown>): string
  /** Paths requested so far, in order. */
  readonly requests: readonly string[]
  /** A fetch that trusts only the test CA and ignores any dispatcher it is handed. */
  fetch (url: URL | string, init?: RequestInit & { dispatcher?: unknown }): Promise<Response>
  close (): Promise<void>
}

export async function startCimdServer (): Promise<CimdServer> {
  const ca = await createTestCa()
  const { certificatePem, keyPem } = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })
  const documents = new Map<string, string>()
  const requests: string[] = []
  const server = createServer({ cert: certificatePem, key: keyPem }, (req, res) => {
    const path = req.url ?? '/'
    requests.push(path)
    const body = documents.get(path)
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' })
    res.end(body ?? '{}')
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  const agent = new Agent({ connect: { ca: ca.certificatePem } })
  return {
    origin,
    caPem: ca.certificatePem,
    requests,
    host (path, document) {
      documents.set(path, JSON.stringify(document))
      return `${origin}${path}`
    },
    async fetch (url, init = {}) {
      // The caller's dispatcher (oidc-provider's SSRF guard) would refuse 127.0.0.1.
      const { dispatcher: _guard, ...rest } = init
      return await undiciFetch(url, { ...rest, dispatcher: agent } as Parameters<typeof undiciFetch>[1]) as unknown as Response
    },
    async close () {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await agent.close()
    },
  }
}
