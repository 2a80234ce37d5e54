// The testing kit's honesty: every helper runs against every server below.
// Each broken server has exactly one flaw (a hand-written jose hook, or mcpAuth
// misconfigured) and exactly the helpers named for it must fail, with a message
// that says what to fix; every helper passes on mcpAuth and on the correct
// hand-written server. A broken server that passes every helper fails here.
import assert from 'node:assert'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import mcpAuth from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import {
  assertChallenge,
  assertDpopBoundBearerRejected,
  assertDpopProofAccepted,
  assertDpopProofChecksEnforced,
  assertMtlsBindingEnforced,
  assertReplayRejected,
  assertTokenValidationEnforced,
  createTestCa,
  createTestIssuer,
} from '../../testing.js'
import type { ChallengeExpectation, DpopBoundBearerOptions, DpopProofChecksOptions, MtlsBindingOptions, TokenValidationOptions } from '../../testing.js'
import { handWrittenServer } from './honesty/hand-written-server.js'
import type { Flaw } from './honesty/hand-written-server.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const RESOURCE = 'https://mcp.example.com/mcp'
const METADATA = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'
const ca = await createTestCa()
const tls = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })
const HTTPS = { key: tls.keyPem, cert: tls.certificatePem, ca: ca.certificatePem }
const issuer = await createTestIssuer({ audience: RESOURCE })

const HELPERS = [
  'assertChallenge',
  'assertDpopBoundBearerRejected',
  'assertDpopProofAccepted',
  'assertReplayRejected',
  'assertDpopProofChecksEnforced',
  'assertTokenValidationEnforced',
  'assertMtlsBindingEnforced',
] as const
type Helper = typeof HELPERS[number]

/** What a user would pass for this app, per helper (on top of `{ url, issuer }`). */
interface HelperOptions {
  assertChallenge?: ChallengeExpectation
  assertDpopBoundBearerRejected?: Partial<DpopBoundBearerOptions>
  assertDpopProofChecksEnforced?: Partial<DpopProofChecksOptions>
  assertTokenValidationEnforced?: Partial<TokenValidationOptions>
  assertMtlsBindingEnforced?: Partial<MtlsBindingOptions>
}

interface Subject {
  readonly build: () => FastifyInstance | Promise<FastifyInstance>
  readonly options?: HelperOptions
}

/** Runs every helper against the app, over HTTPS for mTLS; returns the failures by helper. */
async function runEvery (t: Test, subject: Subject): Promise<Map<Helper, Error>> {
  const app = await subject.build()
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`
  const base = { url: '/mcp', issuer }
  const options = subject.options ?? {}
  const runs: Record<Helper, () => Promise<unknown>> = {
    assertChallenge: async () => assertChallenge(await app.inject({ method: 'GET', url: '/mcp' }), { status: 401, scheme: 'Bearer', error: null, first: true, ...options.assertChallenge }),
    assertDpopBoundBearerRejected: () => assertDpopBoundBearerRejected(app, { ...base, ...options.assertDpopBoundBearerRejected }),
    assertDpopProofAccepted: () => assertDpopProofAccepted(app, base),
    assertReplayRejected: () => assertReplayRejected(app, base),
    assertDpopProofChecksEnforced: () => assertDpopProofChecksEnforced(app, { ...base, ...options.assertDpopProofChecksEnforced }),
    assertTokenValidationEnforced: () => assertTokenValidationEnforced(app, { ...base, ...options.assertTokenValidationEnforced }),
    assertMtlsBindingEnforced: () => assertMtlsBindingEnforced({ issuer, ca, ...options.assertMtlsBindingEnforced, url }),
  }
  const failures = new Map<Helper, Error>()
  for (const helper of HELPERS) {
    try {
      await runs[helper]()
    } catch (err) {
      failures.set(helper, err as Error)
    }
  }
  return failures
}

/** Every helper passes. */
async function honest (t: Test, subject: Subject): Promise<void> {
  const failures = await runEvery(t, subject)
  for (const helper of HELPERS) t.notOk(failures.has(helper), `${helper} passes${failures.has(helper) ? `\n${failures.get(helper)?.message}` : ''}`)
}

/** Exactly the named helpers fail, each with an AssertionError matching its pattern; at least one fails. */
async function caught (t: Test, subject: Subject, expected: Partial<Record<Helper, RegExp>>): Promise<void> {
  const failures = await runEvery(t, subject)
  t.ok(failures.size > 0, 'a broken server that passes every helper fails the suite')
  for (const helper of HELPERS) {
    const pattern = expected[helper]
    const err = failures.get(helper)
    if (pattern === undefined) {
      t.notOk(err, `${helper} passes (not its flaw)${err === undefined ? '' : `\n${err.message}`}`)
      continue
    }
    t.ok(err instanceof assert.AssertionError, `${helper} fails with an AssertionError`)
    t.match(err?.message, pattern, `${helper}: the message says what is wrong`)
  }
}

// ——— Servers ———

async function pluginApp (options: Partial<McpAuthOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify({ https: { ...HTTPS, requestCert: true, rejectUnauthorized: false } }) as unknown as FastifyInstance
  await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: issuer.jwks, ...options } as McpAuthOptions)
  app.route({ method: ['GET', 'POST'], url: '/mcp', handler: async (request) => ({ sender: request.mcp?.sender }) })
  return app
}

const flawed = (flaw?: Flaw): Subject => ({ build: () => handWrittenServer({ issuer, resource: RESOURCE, flaw, https: HTTPS }) })

/** Answers every request the same way, whatever it carries. */
function fixed (answer: 'open' | 'closed'): Subject {
  return {
    build: () => {
      const app = Fastify({ https: { ...HTTPS, requestCert: true, rejectUnauthorized: false } }) as unknown as FastifyInstance
      app.get('/.well-known/oauth-protected-resource/mcp', async () => ({ resource: RESOURCE }))
      app.route({
        method: ['GET', 'POST'],
        url: '/mcp',
        handler: async (request, reply) => {
          if (answer === 'open') return { ok: true }
          const error = request.headers.authorization === undefined ? '' : ', error="invalid_token"'
          return reply.code(401).header('cache-control', 'no-store')
            .header('www-authenticate', `Bearer resource_metadata="${METADATA}"${error}, DPoP algs="ES256", resource_metadata="${METADATA}"${error}`)
            .send({ error: 'invalid_token' })
        },
      })
      return app
    },
    options: { assertDpopBoundBearerRejected: { expectAcceptedWithProof: false } },
  }
}

/** The certificate a proxy put in x-client-cert, else the TLS connection's. */
function headerOrSocket (request: FastifyRequest): string | Buffer | null {
  const forwarded = request.headers['x-client-cert']
  if (typeof forwarded === 'string') return decodeURIComponent(forwarded)
  return (request.raw.socket as Partial<TLSSocket>).getPeerCertificate?.()?.raw ?? null
}

/** A custom verifier that drops cnf, so no binding is ever enforced (and a DPoP request is refused as unbound). */
function droppingCnf (): Partial<McpAuthOptions> {
  const keys = createLocalJWKSet(issuer.jwks)
  return {
    jwks: undefined,
    verifyToken: async (token) => {
      const { payload } = await jwtVerify(token, keys, { typ: 'at+jwt' })
      delete payload.cnf
      return payload as never
    },
  }
}

// ——— Honest servers: every helper passes ———

t.test('every helper passes on mcpAuth with its defaults', (t) => honest(t, { build: () => pluginApp() }))
t.test('every helper passes on mcpAuth with server nonces (dpop.nonce)', (t) => honest(t, { build: () => pluginApp({ dpop: { nonce: { secret: 's'.repeat(32) } } }) }))
t.test('every helper passes on mcpAuth with dpop.required (the DPoP scheme for tokens and the challenge)', (t) => honest(t, {
  build: () => pluginApp({ dpop: { required: true } }),
  options: { assertChallenge: { scheme: 'DPoP' }, assertTokenValidationEnforced: { scheme: 'DPoP' } },
}))
t.test('every helper passes on a correct hand-written jose server: the helpers do not depend on mcpAuth', (t) => honest(t, flawed()))
t.test('mcpAuth with a longer iat window, typ JWT accepted and a trusted proxy\'s certificate header passes when the helpers are told', (t) => honest(t, {
  build: () => pluginApp({ dpop: { iatWindow: 600 }, tokenTypes: ['at+jwt', 'JWT'], mtls: { certificate: headerOrSocket } }),
  options: {
    assertDpopProofChecksEnforced: { iatWindow: 600 },
    assertTokenValidationEnforced: { tokenTypes: ['at+jwt', 'JWT'] },
    assertMtlsBindingEnforced: { trustedProxyHeader: 'X-Client-Cert' },
  },
}))

// ——— Hand-written servers with one flaw each ———

const ACCEPTED = /status: expected 401, got 200/
const handWritten: Array<[Flaw, string, Partial<Record<Helper, RegExp>>]> = [
  ['audience-unchecked', 'never checks aud', { assertTokenValidationEnforced: /a token for another audience \(aud https:\/\/issuer\.test\) must be rejected[\s\S]*fix: the server accepted a token for another audience/ }],
  ['audience-prefix', 'takes any aud that starts with the resource', { assertTokenValidationEnforced: /a token for another resource \(aud https:\/\/mcp\.example\.com\/mcp-admin\)[\s\S]*never by prefix or origin/ }],
  ['token-signature-unchecked', 'never verifies the token\'s signature', { assertTokenValidationEnforced: /a forged signature\) must be rejected[\s\S]*fix: .*verify the signature with the issuer's published keys/ }],
  ['issuer-unchecked', 'never checks iss', { assertTokenValidationEnforced: /another issuer[\s\S]*compare iss exactly/ }],
  ['expiry-unchecked', 'never checks exp', { assertTokenValidationEnforced: /expired a day ago[\s\S]*check exp/ }],
  ['token-typ-unchecked', 'never checks the token\'s typ', { assertTokenValidationEnforced: /a token with typ JWT[\s\S]*require typ at\+jwt/ }],
  ['bound-token-as-bearer', 'accepts a DPoP-bound token as a bearer token', { assertDpopBoundBearerRejected: /sent as a Bearer token \(no DPoP header\)[\s\S]*fix: the server accepted a DPoP-bound token \(cnf\.jkt\) as a plain bearer token/ }],
  ['proof-header-trusted-under-bearer', 'accepts a DPoP-bound token under Bearer when a proof comes with it', { assertDpopBoundBearerRejected: /even with a valid DPoP proof[\s\S]*because a valid DPoP header came with it/ }],
  ['unbound-dpop-accepted', 'accepts an unbound token under DPoP', { assertDpopProofChecksEnforced: /an unbound token \(no cnf\) under the DPoP scheme[\s\S]*has no key for a proof to confirm/ }],
  ['jkt-unchecked', 'never compares the proof key with cnf.jkt', { assertDpopProofChecksEnforced: /fix: the server accepted a valid proof signed by a key other than the token's cnf\.jkt: compare the proof key's RFC 7638 thumbprint with the token's cnf\.jkt/ }],
  ['htm-ignored', 'ignores htm', { assertDpopProofChecksEnforced: /htm names another method[\s\S]*compare htm with the request method/ }],
  ['htu-ignored', 'ignores htu', { assertDpopProofChecksEnforced: /htu names another URL[\s\S]*compare htu with the public URL/ }],
  ['iat-ignored', 'ignores iat', { assertDpopProofChecksEnforced: /a proof issued 360 s ago[\s\S]*in the past/ }],
  ['iat-future-unchecked', 'checks only the age of iat, not a date in the future', { assertDpopProofChecksEnforced: /a proof dated 360 s in the future[\s\S]*not only the age/ }],
  ['ath-ignored', 'ignores ath', { assertDpopProofChecksEnforced: /a proof without ath[\s\S]*require ath/ }],
  ['proof-signature-unchecked', 'never verifies the proof\'s signature', { assertDpopProofChecksEnforced: /a proof whose signature does not verify[\s\S]*verify the proof's signature/ }],
  ['proof-typ-unchecked', 'never checks the proof\'s typ', { assertDpopProofChecksEnforced: /a proof whose typ is JWT[\s\S]*require typ dpop\+jwt/ }],
  ['jti-unchecked', 'does not require jti', { assertDpopProofChecksEnforced: /a proof without jti[\s\S]*require jti/ }],
  ['dpop-header-optional', 'accepts the DPoP scheme without a DPoP header', { assertDpopProofChecksEnforced: /with no DPoP header[\s\S]*require a DPoP header/ }],
  ['replay-unchecked', 'keeps no replay record', { assertReplayRejected: /the same DPoP proof sent a second time[\s\S]*accepted the same proof twice/ }],
  ['replay-keyed-on-proof', 'keys its replay record on the proof text', { assertReplayRejected: /re-signed with the jti of an accepted proof[\s\S]*not on the proof text/ }],
  ['replay-remembers-last', 'remembers only the last jti', { assertReplayRejected: /the first proof, sent again after another proof was accepted[\s\S]*not only the last one/ }],
  ['x5t-token-under-dpop', 'accepts a certificate-bound token under DPoP', { assertMtlsBindingEnforced: /under the DPoP scheme with a valid proof[\s\S]*accepted a certificate-bound token under the DPoP scheme/ }],
  ['certificate-from-header', 'reads the client certificate from a header', { assertMtlsBindingEnforced: /only in proxy headers[\s\S]*a request header any client can set/ }],
  ['any-certificate', 'accepts any client certificate of the CA', { assertMtlsBindingEnforced: /another client certificate from the same CA[\s\S]*not only that a trusted certificate is present/ }],
  ['bearer-challenge-second', 'puts the DPoP challenge before the Bearer one', { assertChallenge: /expected the Bearer challenge first \(MCP SDK v1 clients read only the first\), got DPoP, Bearer/ }],
]
const BASIC = /error="invalid_\w+" is in a Basic challenge: OAuth clients read it only from the Bearer or DPoP challenge/
const NO_METADATA = /expected an absolute resource_metadata URL on a 401/
const everyRejection = (pattern: RegExp): Partial<Record<Helper, RegExp>> => ({
  assertDpopBoundBearerRejected: pattern,
  assertReplayRejected: pattern,
  assertDpopProofChecksEnforced: pattern,
  assertTokenValidationEnforced: pattern,
  assertMtlsBindingEnforced: pattern,
})
handWritten.push(
  ['error-in-basic-challenge', 'puts the error in a Basic challenge', everyRejection(BASIC)],
  ['no-resource-metadata', 'sends challenges without resource_metadata', { assertChallenge: NO_METADATA, ...everyRejection(NO_METADATA) }]
)

for (const [flaw, description, expected] of handWritten) {
  t.test(`a hand-written server that ${description} (${flaw}) is caught by ${Object.keys(expected).join(', ')}`, (t) => caught(t, flawed(flaw), expected))
}

// ——— Servers that answer everything alike ———

t.test('a server that answers 200 to everything fails every helper', (t) => caught(t, fixed('open'), {
  assertChallenge: /status: expected 401, got 200/,
  assertDpopBoundBearerRejected: ACCEPTED,
  assertDpopProofAccepted: /the same request without credentials must be refused with 401[\s\S]*fix: the route answered a request without credentials/,
  assertReplayRejected: ACCEPTED,
  assertDpopProofChecksEnforced: ACCEPTED,
  assertTokenValidationEnforced: ACCEPTED,
  assertMtlsBindingEnforced: ACCEPTED,
}))

t.test('a server that answers 401 to everything fails every helper that needs an accepted request, expectAcceptedWithProof: false included', (t) => caught(t, fixed('closed'), {
  assertDpopBoundBearerRejected: /control: the same request with an unbound token under Bearer must be accepted \(expectAcceptedWithProof: false\)[\s\S]*status: expected 2xx, got 401/,
  assertDpopProofAccepted: /status: expected 2xx, got 401/,
  assertReplayRejected: /the first use of a proof must be accepted/,
  assertDpopProofChecksEnforced: /control: a DPoP-bound token with a valid proof must be accepted/,
  assertTokenValidationEnforced: /control: a valid token under Bearer must be accepted/,
  assertMtlsBindingEnforced: /with the bound client certificate must be accepted/,
}))

// ——— mcpAuth misconfigured ———

t.test('mcpAuth listing a foreign API in audiences (Keycloak\'s account) is caught by assertTokenValidationEnforced', (t) => caught(t, {
  build: () => pluginApp({ resource: { resource: RESOURCE, audiences: ['account'] } } as Partial<McpAuthOptions>),
}, { assertTokenValidationEnforced: /a token for another audience \(aud account\)[\s\S]*list in `audiences` only aliases of this resource/ }))

t.test('mcpAuth listing one of the user\'s other APIs in audiences is caught when the test names it in otherAudiences', (t) => caught(t, {
  build: () => pluginApp({ resource: { resource: RESOURCE, audiences: ['https://calendar.example.com'] } } as Partial<McpAuthOptions>),
  options: { assertTokenValidationEnforced: { otherAudiences: ['https://calendar.example.com'] } },
}, { assertTokenValidationEnforced: /aud https:\/\/calendar\.example\.com/ }))

t.test('mcpAuth without a replay store is caught by assertReplayRejected', (t) => caught(t, { build: () => pluginApp({ dpop: { replayStore: false } }) }, {
  assertReplayRejected: /accepted the same proof twice/,
}))

t.test('mcpAuth with an hour-long iat window is caught by assertDpopProofChecksEnforced', (t) => caught(t, { build: () => pluginApp({ dpop: { iatWindow: 3600 } }) }, {
  assertDpopProofChecksEnforced: /a proof issued 360 s ago[\s\S]*pass iatWindow if yours is longer/,
}))

t.test('mcpAuth accepting typ JWT is caught unless the test declares tokenTypes', (t) => caught(t, { build: () => pluginApp({ tokenTypes: ['at+jwt', 'JWT'] }) }, {
  assertTokenValidationEnforced: /a token with typ JWT/,
}))

t.test('mcpAuth reading the client certificate from a header is caught by assertMtlsBindingEnforced (unless the test names the trusted proxy\'s header, above)', async (t) => {
  await caught(t, { build: () => pluginApp({ mtls: { certificate: headerOrSocket } }) }, { assertMtlsBindingEnforced: /only in proxy headers[\s\S]*headers sent: x-client-cert, / })
})

t.test('mcpAuth with a verifier that drops cnf is caught by the binding helpers, and by every helper that needs DPoP to work', (t) => caught(t, {
  build: () => pluginApp(droppingCnf()),
  options: { assertDpopBoundBearerRejected: { expectAcceptedWithProof: false } },
}, {
  assertDpopBoundBearerRejected: /as a plain bearer token/,
  assertDpopProofAccepted: /status: expected 2xx, got 401/,
  assertReplayRejected: /the first use of a proof must be accepted/,
  assertDpopProofChecksEnforced: /control: a DPoP-bound token with a valid proof must be accepted/,
  assertMtlsBindingEnforced: /with no client certificate must be rejected[\s\S]*without a client certificate/,
}))

// ——— Wrong use: the control request catches it ———

t.test('expectAcceptedWithProof: false still needs a route that accepts a good token: a mistyped url, a wrong method or resource fail', async (t) => {
  const app = await pluginApp()
  t.teardown(() => app.close())
  const control = /control: the same request with an unbound token under Bearer must be accepted/
  for (const [label, options, pattern] of [
    ['a mistyped url', { url: '/mpc' }, /status: expected 2xx, got 404[\s\S]*no route answers this method and url/],
    ['a wrong method', { method: 'DELETE' }, /status: expected 2xx, got 404/],
    ['a wrong resource', { resource: 'https://mcp.example.com/other' }, /status: expected 2xx, got 401[\s\S]*is https:\/\/mcp\.example\.com\/other \(the token's aud\) its configured resource/],
  ] as const) {
    const err = await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer, expectAcceptedWithProof: false, ...options }).then(() => undefined, (e: unknown) => e as Error)
    t.ok(err instanceof assert.AssertionError, label)
    t.match(err?.message, control, `${label}: the control step fails`)
    t.match(err?.message, pattern, label)
  }
  await assertDpopBoundBearerRejected(app, { url: '/mcp', issuer, expectAcceptedWithProof: false })
})
