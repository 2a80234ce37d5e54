// The floor for every scenario that verifies one signature per request: bare
// Fastify plus exactly one ES256 crypto.verify() of the presented JWS (the
// Bearer token, or the DPoP proof when one is sent), with the key imported at
// start-up. No parsing, no claim checks, no cache, no replay store: what any
// verifier must at least spend, measured under the same load, with the same
// requests, in the same run as the scenarios it bounds. It answers 401 when the
// signature does not verify, so a broken floor cannot look fast.
import { createPublicKey, verify } from 'node:crypto'
import Fastify from 'fastify'
import { config, serveFastify } from './child.js'

const tokenKey = createPublicKey(config.publicPem)
const proofKey = config.proofJwk === undefined ? undefined : createPublicKey({ key: config.proofJwk, format: 'jwk' })

function verifies (jws, key) {
  const dot = jws.lastIndexOf('.')
  return verify('sha256', Buffer.from(jws.slice(0, dot), 'latin1'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.slice(dot + 1), 'base64url'))
}

const app = Fastify({ logger: false })
app.addHook('onRequest', async function floor (request, reply) {
  const proof = request.headers.dpop
  const ok = typeof proof === 'string' && proofKey !== undefined
    ? verifies(proof, proofKey)
    : verifies((request.headers.authorization ?? '').slice(request.headers.authorization?.indexOf(' ') + 1), tokenKey)
  if (!ok) return reply.code(401).send()
})
app.get('/mcp', async () => ({ ok: true }))
await serveFastify(app)
