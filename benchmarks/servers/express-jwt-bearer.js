// Peer: express-oauth2-jwt-bearer (Auth0) with the issuer's public JWK.
// It verifies the access-token signature on every request (no token cache),
// accepts Bearer and DPoP by default (proof checked, no jti replay store, no
// nonces), and checks certificate-bound tokens when given getCertificate.
import { createServer } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import express from 'express'
import { auth } from 'express-oauth2-jwt-bearer'
import { config, serveNode, tlsOptions } from './child.js'

const tls = config.tls !== undefined
const app = express()
app.use(auth({
  issuer: config.issuer,
  audience: config.resource,
  publicKey: config.jwks.keys[0],
  tokenSigningAlg: 'ES256',
  dpop: { enabled: true },
  ...(tls ? { mtls: { enabled: true }, getCertificate: (req) => req.socket.getPeerCertificate(false)?.raw } : {}),
}))
app.get('/mcp', (req, res) => { res.json({ ok: true }) })
await serveNode(tls ? createTlsServer(tlsOptions(), app) : createServer(app))
