// Client ID Metadata Documents and dynamic registration, each limit with its
// test: non-public addresses refused before any connection (and oidc-provider's
// connected-address guard kept on), documents over 5 kB or slower than 2.5 s
// refused, redirect_uri matched exactly, unused registrations expiring, the
// per-IP registration limit, and the initial access token.
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import tls from 'node:tls'
import * as oauth from 'oauth4webapi'
import t from 'tap'
import { createOutboundFetch } from '../../lib/authorization-server/outbound-fetch.js'
import { checkHost, isPublicAddress } from '../../lib/authorization-server/address-policy.js'
import { completeAuthorization, createTestCa } from '../../testing.js'
import { authorizationUrl, insecure, REDIRECT_URI, registerPublicClient, startAs } from '../helpers/authorization-server.js'
import { startDocumentServer } from '../helpers/document-server.js'

t.test('address policy: loopback, private, shared, link-local and unique-local addresses are not public', async (t) => {
  for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip']) {
    t.notOk(isPublicAddress(address), address)
  }
  for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) t.ok(isPublicAddress(address), address)
  const lookup = (answers: string[]) => async () => answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  t.equal(await checkHost('client.example', lookup(['93.184.216.34'])), undefined)
  t.match(await checkHost('client.example', lookup(['93.184.216.34', '10.0.0.7'])), /non-public/, 'one private answer among public ones')
  t.match(await checkHost('client.example', lookup([])), /does not resolve/)
  t.match(await checkHost('client.example', async () => { throw new Error('ENOTFOUND') }), /does not resolve/)
  t.match(await checkHost('[::1]', lookup(['93.184.216.34'])), /not a public address/, 'IP literals are judged directly')
})

t.test('the outbound fetch: https only, checked before connecting, with oidc-provider\'s connected-address guard passed through', async (t) => {
  const seen: RequestInit[] = []
  const next = async (_url: string | URL, init: RequestInit) => { seen.push(init); return new Response('{}') }
  const fetch = createOutboundFetch(async () => [{ address: '93.184.216.34', family: 4 }], next)
  const guard = { name: 'oidc-provider SSRF dispatcher' }
  await fetch('https://client.example/doc.json', { dispatcher: guard } as unknown as RequestInit)
  t.equal((seen[0] as { dispatcher?: unknown }).dispatcher, guard, 'the DNS-rebinding guard stays on')
  await t.rejects(fetch('http://client.example/doc.json', { dispatcher: guard } as unknown as RequestInit), /https only/)
  const private10 = createOutboundFetch(async () => [{ address: '10.0.0.1', family: 4 }], next)
  await t.rejects(private10('https://client.example/doc.json', { dispatcher: guard } as unknown as RequestInit), /non-public/)
  await t.rejects(fetch('https://client.example/doc.json', {}), /connected-address guard is off/, 'fail closed without the provider\'s guard')
  t.equal(seen.length, 1, 'nothing was fetched for refused URLs')
})

t.test('CIMD client_ids on non-public hosts are refused at the authorization endpoint, with no request made', async (t) => {
  const resolved = new Set<string>()
  const { app } = await startAs(t, { clients: { cimd: { lookup: async (host) => { resolved.add(host); return host === 'rebind.example' ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.0.0.8', family: 4 }] } } } })
  for (const clientId of ['https://127.0.0.1:9/client.json', 'https://169.254.169.254/latest/meta-data', 'https://[fd00::1]/client.json', 'https://rebind.example/client.json', 'https://intranet.example/client.json']) {
    const res = await app.inject({ url: `/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: 'https://app.example/cb', response_type: 'code', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}` })
    t.equal(res.statusCode, 400, clientId)
    t.equal(res.json().error, 'invalid_client', clientId)
  }
  t.same([...resolved].sort(), ['intranet.example', 'rebind.example'], 'only the names were resolved; IP literals were refused as written')
})

// DNS rebinding: the name resolves to a public address for the check and to
// loopback for the connection. The document server is real (HTTPS on 127.0.0.1,
// its CA trusted process-wide), so only the connected-address guard stands
// between the authorization server and the document.
const trustCa = (tls as { setDefaultCACertificates?: (certs: string[]) => void }).setDefaultCACertificates
t.test('a CIMD host that resolves to a public address, then to loopback when connecting (DNS rebinding), is refused', { skip: trustCa === undefined && 'tls.setDefaultCACertificates needs Node 22.19 or later' }, async (t) => {
  const ca = await createTestCa()
  const { certificatePem, keyPem } = await ca.issueServerCertificate({ hosts: ['localhost', '127.0.0.1'] })
  const requests: string[] = []
  const server = createHttpsServer({ cert: certificatePem, key: keyPem }, (req, res) => {
    requests.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ client_id: clientId, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const clientId = `https://localhost:${(server.address() as AddressInfo).port}/client.json`
  const defaults = tls.getCACertificates('default')
  trustCa?.([...defaults, ca.certificatePem])
  t.teardown(() => trustCa?.(defaults))
  // The rebinding resolver's first answer is public; the connection resolves
  // `localhost` again (the system's answer: 127.0.0.1).
  const answers: string[] = []
  const lookup = async (host: string) => { answers.push(host); return [{ address: '93.184.216.34', family: 4 }] }
  const errors: unknown[] = []
  const running = await startAs(t, { clients: { cimd: { lookup } } })
  running.app.mcpAuthorizationServer.provider.on('authorization.error', (_ctx: unknown, err: unknown) => { errors.push(err) })
  const res = await fetch((await authorizationUrl(running.as, { client_id: clientId })).url, { redirect: 'manual' })
  t.equal(res.status, 400)
  t.equal(((await res.json()) as { error: string }).error, 'invalid_client')
  t.ok(answers.length > 0 && answers.every((host) => host === 'localhost'), 'the address check passed (a public answer)')
  t.match(String((errors[0] as { cause?: { cause?: Error } } | undefined)?.cause?.cause?.message), /special-use IP address/, 'the connected-address guard refused loopback')
  t.same(requests, [], 'no request reached the loopback server')
})

t.test('a CIMD client: its document is fetched once, consent shows its name and redirect host, redirect_uri matches exactly', async (t) => {
  const documents = new Map<string, unknown>()
  const server = await startDocumentServer(t, undefined, documents)
  const host = (path: string, extra: Record<string, unknown> = {}): string => {
    const clientId = server.origin + path
    documents.set(path, { client_id: clientId, client_name: 'Notes <Client>', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], ...extra })
    return clientId
  }
  const running = await startAs(t, { configure: (configuration) => { configuration.fetch = server.fetch } })
  const clientId = host('/client.json')
  const client = { client_id: clientId, token_endpoint_auth_method: 'none' }
  const { url, verifier } = await authorizationUrl(running.as, client)
  const consent = await fetchConsentPage(url)
  t.match(consent, /Notes &lt;Client&gt;/, 'the client name, escaped')
  t.match(consent, /127\.0\.0\.1/, 'the redirect URI host')
  const callback = await completeAuthorization(url, REDIRECT_URI)
  const result = oauth.validateAuthResponse(running.as, client, callback, url.searchParams.get('state') ?? undefined)
  const res = await oauth.authorizationCodeGrantRequest(running.as, client, oauth.None(), result, REDIRECT_URI, verifier, insecure)
  t.ok((await oauth.processAuthorizationCodeResponse(running.as, client, res)).access_token)

  const mismatch = await authorizationUrl(running.as, client, { redirect_uri: REDIRECT_URI + '/other' })
  const refused = await fetch(mismatch.url, { redirect: 'manual' })
  t.equal(refused.status, 400)
  t.equal(((await refused.json()) as { error: string }).error, 'invalid_redirect_uri', 'no prefix or loose match')

  const big = host('/big.json', { padding: 'x'.repeat(6 * 1024) })
  const tooBig = await fetch((await authorizationUrl(running.as, { client_id: big })).url, { redirect: 'manual' })
  t.equal(tooBig.status, 400, 'a document over 5 kB')

  const wrongId = server.origin + '/wrong-id.json'
  documents.set('/wrong-id.json', { client_id: server.origin + '/other.json', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' })
  const mismatched = await fetch((await authorizationUrl(running.as, { client_id: wrongId })).url, { redirect: 'manual' })
  t.equal(mismatched.status, 400, 'a document whose client_id is not its URL')
})

t.test('a CIMD document slower than 2.5 s is refused', async (t) => {
  const server = await startDocumentServer(t, () => { /* never answers */ })
  const running = await startAs(t, { configure: (configuration) => { configuration.fetch = server.fetch } })
  const res = await fetch((await authorizationUrl(running.as, { client_id: server.origin + '/slow.json' })).url, { redirect: 'manual' })
  t.equal(res.status, 400)
  t.equal(((await res.json()) as { error: string }).error, 'invalid_client')
  t.ok(server.requests() >= 1, 'it was asked (and given up on)')
})

t.test('allowFetch decides which CIMD URLs may be fetched at all', async (t) => {
  const server = await startDocumentServer(t)
  const running = await startAs(t, { clients: { cimd: { allowFetch: (url) => url.hostname === 'trusted.example' } }, configure: (configuration) => { configuration.fetch = server.fetch } })
  const res = await fetch((await authorizationUrl(running.as, { client_id: server.origin + '/client.json' })).url, { redirect: 'manual' })
  t.equal(res.status, 400)
  t.equal(server.requests(), 0, 'not fetched')
})

async function fetchConsentPage (authorization: URL): Promise<string> {
  // Sign in through the development pages, stop at the consent page.
  const cookies = new Map<string, string>()
  const jar = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  const keep = (res: Response) => { for (const line of res.headers.getSetCookie()) { const [pair = ''] = line.split(';'); const eq = pair.indexOf('='); cookies.set(pair.slice(0, eq), pair.slice(eq + 1)) } }
  let res = await fetch(authorization, { redirect: 'manual' })
  keep(res)
  let url = new URL(String(res.headers.get('location')), authorization)
  res = await fetch(url, { headers: { cookie: jar() } })
  keep(res)
  const csrf = /name="csrf" value="([^"]+)"/.exec(await res.text())?.[1] ?? ''
  res = await fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie: jar() }, body: new URLSearchParams({ csrf, username: 'demo-user', password: 'demo', action: 'login' }) })
  keep(res)
  url = new URL(String(res.headers.get('location')), url)
  res = await fetch(url, { redirect: 'manual', headers: { cookie: jar() } })
  keep(res)
  url = new URL(String(res.headers.get('location')), url)
  return (await fetch(url, { headers: { cookie: jar() } })).text()
}

t.test('dynamic registration: unused registrations expire after idleTtl, used ones live on', async (t) => {
  const running = await startAs(t, { clients: { registration: { idleTtl: 3 } } })
  const idle = await registerPublicClient(running.as)
  const used = await registerPublicClient(running.as)
  const read = (client: oauth.Client) => fetch(String(client.registration_client_uri), { headers: { authorization: `Bearer ${String(client.registration_access_token)}` } })
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const { url } = await authorizationUrl(running.as, used)
    const res = await fetch(url, { redirect: 'manual' })
    t.equal(res.status, 303, `used client, ${i + 1} s`)
  }
  t.equal((await read(idle)).status, 401, 'the idle registration is gone')
})

t.test('dynamic registration: rate-limited per client IP, and an initial access token can be required', async (t) => {
  const limited = await startAs(t, { clients: { registration: { perIpPerHour: 2 } } })
  const register = (base: string, headers: Record<string, string> = {}) => fetch(`${base}/register`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }) })
  const statuses = [(await register(limited.issuer)).status, (await register(limited.issuer)).status, (await register(limited.issuer)).status]
  t.same(statuses, [201, 201, 429])

  const token = 'initial-access-token-0123456789'
  const gated = await startAs(t, { clients: { registration: { initialAccessToken: token } } })
  const without = await register(gated.issuer)
  t.equal(without.status, 401)
  const withToken = await register(gated.issuer, { authorization: `Bearer ${token}` })
  t.equal(withToken.status, 201)
  const off = await startAs(t, { clients: { registration: false } })
  t.equal(off.as.registration_endpoint, undefined, 'registration off: not advertised')
  t.equal((await register(off.issuer)).status, 404)
})

t.test('a registered client is not bound to the scope of its first request (step-up works), unless bindScope', async (t) => {
  for (const bindScope of [false, true]) {
    const running = await startAs(t, { clients: { registration: { bindScope } } })
    const client = await registerPublicClient(running.as, { scope: 'mcp:tools:read' })
    t.equal(client.scope, bindScope ? 'mcp:tools:read' : undefined, `registered scope kept: ${String(bindScope)}`)
    const { url } = await authorizationUrl(running.as, client, { scope: 'mcp:tools:read mcp:tools:call' })
    const callback = await completeAuthorization(url, REDIRECT_URI)
    t.equal(callback.searchParams.get('error'), bindScope ? 'invalid_scope' : null, bindScope ? 'bound: refused' : 'step-up allowed')
  }
})
