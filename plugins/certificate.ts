// Where a request's client certificate comes from, as an x5t#S256 reader: the
// TLS socket by default, or the user's mtls.certificate (e.g. a header set by a
// trusted TLS terminator).
import type { FastifyRequest } from 'fastify'
import type { TLSSocket } from 'node:tls'
import { certificateThumbprint } from '../lib/mtls/thumbprint.js'
import type { ResolvedOptions } from '../lib/options.js'

// A connection's client certificate is fixed by its handshake: hash it once per
// socket, not per request (getPeerCertificate and X.509 parsing are costly).
const socketThumbprints = new WeakMap<object, string | null>()

/** The TLS socket's peer certificate, hashed, or undefined. */
function peerCertificateThumbprint (request: FastifyRequest): string | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>
  if (typeof socket.getPeerCertificate !== 'function') return undefined
  let thumbprint = socketThumbprints.get(socket)
  if (thumbprint === undefined) {
    // An empty object when the client sent no certificate.
    const raw = socket.getPeerCertificate(false)?.raw
    thumbprint = raw === undefined ? null : certificateThumbprint(raw) ?? null
    socketThumbprints.set(socket, thumbprint)
  }
  return thumbprint ?? undefined
}

/** Built once: the authenticator calls it with the framework request, for certificate-bound tokens only. */
export function createCertificateReader (certificate: ResolvedOptions['certificate']): (request: unknown) => Promise<string | undefined> {
  if (certificate === undefined) return async (request) => peerCertificateThumbprint(request as FastifyRequest)
  return async (request) => {
    const supplied = await certificate(request as FastifyRequest)
    return supplied === null || supplied === undefined ? undefined : certificateThumbprint(supplied)
  }
}
