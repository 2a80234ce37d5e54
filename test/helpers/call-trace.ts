// Prints, as JSON, every function of this package that one cached DPoP request
// enters, with how many times: V8's precise coverage counts the calls. Run in
// a child process of its own (test/docs/architecture.test.ts), where no other
// coverage collection shares V8's counters. Not a test file (see .taprc include).
import { Session } from 'node:inspector/promises'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const session = new Session()
session.connect()
await session.post('Profiler.enable')
// Counting starts before the package loads, so every function of it is counted.
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false })

const { default: Fastify } = await import('fastify')
const { default: mcpAuth } = await import('../../index.js')
const { createDpopKey, createDpopProof, createTestIssuer } = await import('../../testing.js')

const RESOURCE = 'https://mcp.example.com/mcp'
const issuer = await createTestIssuer({ audience: RESOURCE })
const app = Fastify()
// The default options: one resource, DPoP with a MemoryReplayStore, no nonces, no principal, no onEvent.
await app.register(mcpAuth, { resource: RESOURCE, authorizationServers: [issuer.issuer], jwks: { keys: issuer.jwks.keys } })
app.post('/mcp', async () => 'ok')
await app.ready()

const key = await createDpopKey()
const token = await issuer.mintAccessToken({}, { bindTo: { jkt: key.jkt } })
async function send (proof: string): Promise<void> {
  const response = await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: `DPoP ${token}`, dpop: proof } })
  if (response.statusCode !== 200) throw new Error(`expected 200, got ${response.statusCode}: ${response.body}`)
}

interface FunctionCoverage { functionName: string, ranges: Array<{ count: number }> }
interface ScriptCoverage { url: string, functions: FunctionCoverage[] }

// The first request verifies the token and fills the caches; the second is a cached one
// like the measured one. Taking the coverage resets the counts.
const proofs = await Promise.all([1, 2, 3].map(() => createDpopProof(key, { method: 'POST', url: RESOURCE, accessToken: token })))
await send(proofs[0] as string)
await send(proofs[1] as string)
await session.post('Profiler.takePreciseCoverage')
await send(proofs[2] as string)
const { result } = await session.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] }
await session.post('Profiler.stopPreciseCoverage')
session.disconnect()
await app.close()

const entered: Array<{ module: string, name: string, calls: number }> = []
for (const script of result) {
  if (!script.url.startsWith('file://')) continue
  const module = fileURLToPath(script.url).slice(root.length)
  if (!/^(?:lib|plugins)\/|^index\.ts$/.test(module)) continue
  for (const fn of script.functions) {
    const calls = fn.ranges[0]?.count ?? 0
    // Not calls the request makes: the module's own top level (no name) and V8's
    // field initializers of a class (<instance_members_initializer>), part of its constructor.
    if (calls > 0 && /^[\w$]+$/.test(fn.functionName)) entered.push({ module, name: fn.functionName, calls })
  }
}
process.stdout.write(JSON.stringify(entered))
