// Servers and expectations the testing kit's own tests share: a correct
// mcpAuth app, deliberately broken apps, and a check that a helper fails with
// node's AssertionError whose message says what went wrong.
import assert from 'node:assert'
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createLocalJWKSet, jwtVerify } from 'jose'
import type t from 'tap'
import mcpAuth, { requireScopes } from '../../index.js'
import type { McpAuthOptions } from '../../index.js'
import { createTestCa, createTestIssuer } from '../../testing.js'
import type { HttpResponseLike, TestIssuer } from '../../testing.js'

export type Test = Parameters<Parameters<typeof t.test>[0]>[0]

export const RESOURCE = 'https://mcp.example.com/mcp'
export const PRM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp'
export const ALGS = 'ES256 ES384 PS256 RS256 EdDSA'

// ——— Servers ———

/** A correct server: GET /mcp (any token), POST /mcp (needs mcp:tools:call). */
export async function goodApp (t: Test, options: Partial<McpAuthOptions> = {}, issuer?: TestIssuer): Promise<{ app: FastifyInstance, issuer: TestIssuer }> {
  const iss = issuer ?? await createTestIssuer({ audience: RESOURCE })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(mcpAuth, withKeys(iss, options))
  app.get('/mcp', async (request) => ({ sender: request.mcp?.sender }))
  app.post('/mcp', { preHandler: requireScopes(['mcp:tools:call']) }, async (request) => ({ sender: request.mcp?.sender }))
  await app.ready()
  return { app, issuer: iss }
}

/** Broken: no authentication at all; echoes the credentials it was sent (and records them). */
export async function acceptAllApp (t: Test): Promise<{ app: FastifyInstance, seen: string[] }> {
  const app = Fastify()
  t.teardown(() => app.close())
  const seen: string[] = []
  app.all('/mcp', async (request) => {
    for (const name of ['authorization', 'dpop']) if (typeof request.headers[name] === 'string') seen.push(request.headers[name])
    return { authorization: request.headers.authorization, dpop: request.headers.dpop }
  })
  await app.ready()
  return { app, seen }
}

/** Broken: a custom verifier that drops `cnf`, so no binding is ever enforced. */
export function droppingCnf (issuer: TestIssuer): Partial<McpAuthOptions> {
  const keys = createLocalJWKSet(issuer.jwks)
  return {
    verifyToken: async (token) => {
      const { payload } = await jwtVerify(token, keys)
      delete payload.cnf
      return payload as never
    },
  }
}

/** mcpAuth options trusting the issuer (through `jwks`, unless a custom verifier replaces it). */
export function withKeys (issuer: TestIssuer, options: Partial<McpAuthOptions> = {}): McpAuthOptions {
  const keys = options.verifyToken === undefined ? { jwks: issuer.jwks } : {}
  return { resource: RESOURCE, authorizationServers: [issuer.issuer], ...keys, ...options } as McpAuthOptions
}

/** Broken on purpose with a hand-written answer to every request. */
export async function fixedApp (t: Test, answer: (headers: Record<string, unknown>, reply: FastifyReply) => unknown): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  app.all('/mcp', async (request, reply) => answer(request.headers, reply))
  await app.ready()
  return app
}

export function invalidToken (reply: FastifyReply, challenge = `Bearer error="invalid_token", resource_metadata="${PRM}"`): unknown {
  return reply.code(401).header('cache-control', 'no-store').header('www-authenticate', challenge).send({ error: 'invalid_token' })
}

// ——— Expecting failures ———

/** The helper rejects with node's AssertionError whose message matches every pattern. */
export async function failsWith (t: Test, run: () => Promise<unknown>, patterns: RegExp[], message: string): Promise<assert.AssertionError | undefined> {
  try {
    await run()
  } catch (err) {
    t.ok(err instanceof assert.AssertionError, `${message}: an assert.AssertionError`)
    const text = (err as Error).message
    for (const pattern of patterns) t.match(text, pattern, `${message}: ${pattern}`)
    return err as assert.AssertionError
  }
  t.fail(`${message}: expected an AssertionError, the helper passed`)
  return undefined
}

/** No token or proof the server saw appears whole in the message. */
export function noSecrets (t: Test, err: Error | undefined, secrets: string[]): void {
  t.ok(secrets.length > 0, 'the server saw credentials')
  for (const secret of secrets) t.notOk(err?.message.includes(secret), 'the message does not contain a token or proof')
  t.notMatch(err?.message ?? '', /eyJ[\w-]{20,}\.eyJ/, 'nor anything shaped like one')
}

/** The first stack frame, where a runner points. */
export function firstFrame (err: Error | undefined): string | undefined {
  return err?.stack?.split('\n').find((line) => line.startsWith('    at '))
}

export function response (statusCode: number, headers: HttpResponseLike['headers'], body = ''): HttpResponseLike {
  return { statusCode, headers, body }
}

// ——— mTLS ———

export const ca = await createTestCa()
export const serverCertificate = await ca.issueServerCertificate({ hosts: ['127.0.0.1'] })

/** An HTTPS listener asking for client certificates from `ca`, with GET /mcp behind mcpAuth (or not). */
export async function httpsApp (t: Test, options: { auth?: Partial<McpAuthOptions> | false, rejectUnauthorized?: boolean, issuer?: TestIssuer } = {}): Promise<{ url: string, issuer: TestIssuer }> {
  const issuer = options.issuer ?? await createTestIssuer({ audience: RESOURCE })
  const app = Fastify({
    https: { key: serverCertificate.keyPem, cert: serverCertificate.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: options.rejectUnauthorized ?? false },
  }) as unknown as FastifyInstance
  t.teardown(() => app.close())
  if (options.auth !== false) {
    await app.register(mcpAuth, withKeys(issuer, options.auth))
  }
  app.all('/mcp', async (request) => ({ sender: request.mcp?.sender ?? null }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`, issuer }
}

/** A bare HTTPS server (no plugin) deciding from the request alone. */
export async function fixedHttps (t: Test, decide: (request: { socket: { getPeerCertificate?: () => { raw?: Buffer } }, headers: Record<string, unknown> }) => 'accept' | 'reject'): Promise<string> {
  const app = Fastify({
    https: { key: serverCertificate.keyPem, cert: serverCertificate.certificatePem, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false },
  }) as unknown as FastifyInstance
  t.teardown(() => app.close())
  app.all('/mcp', async (request, reply) => decide({ socket: request.raw.socket as never, headers: request.headers }) === 'accept' ? { ok: true } : invalidToken(reply))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`
}

/** The certificate a proxy put in `name` (decoded), else the TLS connection's: mcpAuth's `mtls.certificate` behind a proxy. */
export function headerOrSocket (name = 'x-client-cert', decode: (value: string) => string | Buffer = decodeURIComponent): (request: FastifyRequest) => string | Buffer | null {
  return (request) => {
    const forwarded = request.headers[name]
    if (typeof forwarded === 'string') return decode(forwarded)
    return (request.raw.socket as Partial<TLSSocket>).getPeerCertificate?.()?.raw ?? null
  }
}

export const root = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Runs `node <args>` from the project root as a user would, outside this tap run: tap
 * hooks child processes (NODE_OPTIONS) to collect their coverage, and a file that tsx or
 * vite compiled differently would spoil the report. Bounded: killed after two minutes.
 */
export function runNode (args: readonly string[]): Promise<{ code: number | null, output: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(TAP|_TAPJS|TS_NODE)/.test(name)))
  return new Promise((resolve) => {
    // env(1) drops what tap's spawn hook adds to this child's environment.
    const child = spawn('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, ...args], {
      cwd: root,
      env: { ...env, FORCE_COLOR: '0', NO_COLOR: '1', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const chunks: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output: Buffer.concat(chunks).toString() })
    })
  })
}
