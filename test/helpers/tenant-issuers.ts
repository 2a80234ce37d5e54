// A loopback authorization server hosting one issuer per tenant under one
// origin (`<origin>/<tenant>`, as Entra, Auth0 or Keycloak realms do): each
// tenant has its own keys, RFC 8414 metadata at the path-inserted location and
// a JWKS. Every request is recorded. Not a test file (see .taprc include).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTestIssuer } from '../../testing.js'
import type { TestIssuer } from '../../testing.js'
import type { Teardown } from './app.js'

export interface TenantIssuers {
  readonly origin: string
  /** `<origin>/{tenant}`: the issuer template. */
  readonly template: string
  /** The tenant's issuer (keys made on first use). */
  issuer (tenant: string): Promise<TestIssuer>
  /** Paths requested, in order. */
  readonly requests: string[]
  /** Answer nothing for a while (a slow or hung server) until the promise settles. */
  hold: Promise<void> | undefined
}

export async function startTenantIssuers (t: Teardown): Promise<TenantIssuers> {
  const issuers = new Map<string, TestIssuer>()
  const requests: string[] = []
  let origin = ''
  const state: TenantIssuers = {
    origin: '',
    template: '',
    requests,
    hold: undefined,
    async issuer (tenant) {
      let issuer = issuers.get(tenant)
      if (issuer === undefined) {
        issuer = await createTestIssuer({ issuer: `${origin}/${tenant}` })
        issuers.set(tenant, issuer)
      }
      return issuer
    },
  }
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    requests.push(path)
    const answer = (): void => {
      const metadata = /^\/\.well-known\/oauth-authorization-server\/([^/]+)$/.exec(path)
      const jwks = /^\/jwks\/([^/]+)$/.exec(path)
      const issuer = issuers.get((metadata ?? jwks)?.[1] ?? '')
      res.setHeader('content-type', 'application/json')
      if (issuer === undefined) res.writeHead(404).end('{}')
      else if (metadata !== null) res.end(JSON.stringify({ issuer: issuer.issuer, jwks_uri: `${origin}/jwks/${metadata[1]}` }))
      else res.end(JSON.stringify(issuer.jwks))
    }
    if (state.hold === undefined) answer()
    else state.hold.then(answer, answer)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  Object.assign(state, { origin, template: `${origin}/{tenant}` })
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return state
}
