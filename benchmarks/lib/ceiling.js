// The crypto ceiling: ES256 signature verifications per second on one core,
// measured in a forked process with nothing else running in it.
//
//   nodeCrypto     crypto.verify() (OpenSSL, synchronous) over pre-made tokens:
//                  SHA-256 of the signing input + the ECDSA P-256 check. This is
//                  the algorithm's cost: the floor any verifier pays.
//   joseSerial     jose compactVerify() (WebCrypto, what the plugin uses), one at
//                  a time: each call hops to the libuv thread pool and back.
//   joseParallel   the same with 32 in flight; reported per CPU-second (main
//                  thread + pool threads), i.e. what one core's worth of CPU buys.
//
// Run directly (`node benchmarks/lib/ceiling.js 2`) or forked by run.js, which
// receives the result over IPC.
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { compactVerify, importJWK } from 'jose'

const TOKENS = 2000

function makeTokens () {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const tokens = []
  for (let i = 0; i < TOKENS; i++) {
    const payload = Buffer.from(JSON.stringify({
      iss: 'https://issuer.bench.test',
      sub: 'user-123',
      client_id: 'client-abc',
      iat: now,
      exp: now + 900,
      jti: randomUUID(),
      scope: 'mcp:tools:read',
      aud: 'http://127.0.0.1/mcp',
    })).toString('base64url')
    const input = header + '.' + payload
    tokens.push(input + '.' + sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url'))
  }
  return { tokens, publicKey, jwk: publicKey.export({ format: 'jwk' }) }
}

function measureNodeCrypto (tokens, publicKey, seconds) {
  const key = createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }))
  const items = tokens.map((token) => {
    const dot = token.lastIndexOf('.')
    return { input: Buffer.from(token.slice(0, dot)), signature: Buffer.from(token.slice(dot + 1), 'base64url') }
  })
  const options = { key, dsaEncoding: 'ieee-p1363' }
  const end = performance.now() + seconds * 1000
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let n = 0
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) {
      const item = items[n % items.length]
      if (!verify('sha256', item.input, options, item.signature)) throw new Error('verification failed')
      n++
    }
  }
  const wall = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  return { perSecond: n / wall, perCpuSecond: n / ((cpu.user + cpu.system) / 1e6), count: n }
}

async function measureJose (tokens, key, seconds, concurrency) {
  const options = { algorithms: ['ES256'] }
  const end = performance.now() + seconds * 1000
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let n = 0
  async function worker (offset) {
    let i = offset
    while (performance.now() < end) {
      await compactVerify(tokens[i % tokens.length], key, options)
      i += concurrency
      n++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)))
  const wall = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  return { perSecond: n / wall, perCpuSecond: n / ((cpu.user + cpu.system) / 1e6), count: n }
}

export async function measureCeiling (seconds = 2) {
  const { tokens, publicKey, jwk } = makeTokens()
  const cryptoKey = await importJWK(jwk, 'ES256')
  // A short warm-up of both paths so the JIT and OpenSSL tables are hot.
  measureNodeCrypto(tokens, publicKey, 0.2)
  await measureJose(tokens, cryptoKey, 0.2, 1)
  const nodeCrypto = measureNodeCrypto(tokens, publicKey, seconds)
  const joseSerial = await measureJose(tokens, cryptoKey, seconds, 1)
  const joseParallel = await measureJose(tokens, cryptoKey, seconds, 32)
  return { algorithm: 'ES256', seconds, nodeCrypto, joseSerial, joseParallel }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.argv[2] ?? 2)
  const result = await measureCeiling(seconds)
  if (process.send !== undefined) process.send({ type: 'ceiling', result })
  else console.log(JSON.stringify(result, null, 2))
}
