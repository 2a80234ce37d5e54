// assertMtlsBindingEnforced: a certificate-bound token (RFC 8705 §3) works
// only with its certificate on the TLS connection: not without one, not with
// another, not from a header a client can set, and not under the DPoP scheme.
import { createHash } from 'node:crypto'
import { challengesOf, expectRejected, sameScheme } from './challenge.js'
import type { TestCa, TestClientCertificate } from './certificates.js'
import { createDpopKey } from './dpop.js'
import { Exchange, httpsTransport } from './http.js'
import type { Transport } from './http.js'
import type { HttpResponseLike } from './exchange.js'
import { callSite, fromCallSite } from './report.js'
import { discoverResource, expectSuccess, mint, publicUrlOf, requestTo, sendWithProof, targetOf } from './steps.js'
import type { DpopAssertionOptions } from './steps.js'

export interface MtlsBindingOptions extends Omit<DpopAssertionOptions, 'url'> {
  /** An `https:` URL of the listening server, e.g. `https://127.0.0.1:${port}/mcp`. */
  url: string
  /**
   * Issues the bound client certificate and another one. The server must
   * request and trust it (`requestCert: true, ca: ca.certificatePem`) and let
   * the handshake finish without one (`rejectUnauthorized: false`) so the
   * plugin can answer 401.
   */
  ca: TestCa
  /** PEM that verifies the server's certificate; default `ca.certificatePem`. */
  serverCa?: string | readonly string[]
  /**
   * The one header a trusted TLS-terminating proxy sets (and strips from client
   * requests) with the client certificate, if the app reads one; the helper
   * does not send it. Every other usual certificate header must be ignored.
   */
  trustedProxyHeader?: string
}

/** The headers TLS-terminating proxies use for the client certificate, each in its usual encoding. */
function proxyHeaders (certificate: TestClientCertificate): Record<string, string> {
  const pem = encodeURIComponent(certificate.certificatePem)
  const der = Buffer.from(certificate.der).toString('base64')
  const sha256 = createHash('sha256').update(certificate.der).digest('hex')
  return {
    'x-client-cert': pem, // nginx $ssl_client_escaped_cert
    'x-ssl-client-cert': pem,
    'ssl-client-cert': pem,
    'x-forwarded-client-cert': `Hash=${sha256};Cert="${pem}"`, // Envoy XFCC
    'client-cert': `:${der}:`, // RFC 9440
    'x-amzn-mtls-clientcert': pem, // AWS ALB
    'x-arr-clientcert': der, // Azure App Service
    'x-client-certificate': der,
  }
}

/**
 * Against a listening HTTPS server: a token bound to a client certificate
 * (cnf["x5t#S256"]) must get a 2xx with that certificate, and 401 without a
 * certificate, with another certificate from the same CA, with the bound
 * certificate only in the usual proxy headers, and under the DPoP scheme
 * with a valid proof. Returns the accepted response.
 */
export async function assertMtlsBindingEnforced (options: MtlsBindingOptions): Promise<HttpResponseLike> {
  return fromCallSite(callSite(assertMtlsBindingEnforced), mtlsBindingEnforced(options))
}

async function mtlsBindingEnforced (options: MtlsBindingOptions): Promise<HttpResponseLike> {
  const helper = 'assertMtlsBindingEnforced'
  const base = new URL(options.url)
  if (base.protocol !== 'https:') throw new TypeError(`${helper}: url must be an https: URL of a listening server; got ${options.url}`)
  const target = targetOf(options, base.pathname + base.search)
  const [bound, other] = await Promise.all([
    options.ca.issueClientCertificate({ commonName: 'bound-client' }),
    options.ca.issueClientCertificate({ commonName: 'other-client' }),
  ])
  const serverCa = options.serverCa ?? options.ca.certificatePem
  const via = (certificate: TestClientCertificate | undefined): Transport => httpsTransport({ base, ca: serverCa, certificate })
  const exchange = new Exchange(helper, via(undefined), options.timeout)
  const aud = options.resource ?? options.issuer.audience ?? await discoverResource(exchange, target, via(bound))
  const token = await mint(options, aud, { x5t: bound.x5t })
  const request = requestTo(target, { authorization: `Bearer ${token}` })
  const handshake = 'does the server trust the CA (ca: ca.certificatePem), and does serverCa verify the server certificate?'

  const acceptedStep = { step: 'a certificate-bound token presented with the bound client certificate must be accepted', note: 'client certificate: the bound client certificate', failureHint: handshake }
  const accepted = await exchange.send(acceptedStep, request, via(bound))
  expectSuccess(exchange, acceptedStep, request, accepted, { aud }, options)

  const noneStep = {
    step: 'a certificate-bound token presented with no client certificate must be rejected with 401 invalid_token',
    note: 'client certificate: no client certificate',
    failureHint: 'a server with rejectUnauthorized: true ends the TLS handshake without a client certificate; use requestCert: true, rejectUnauthorized: false and let the plugin answer 401',
  }
  expectRejected(exchange.context(noneStep, request), await exchange.send(noneStep, request, via(undefined)), {
    error: 'invalid_token',
    fix: 'the server accepted a certificate-bound token (cnf["x5t#S256"]) without a client certificate: compare the SHA-256 thumbprint of the TLS client certificate\'s DER with cnf["x5t#S256"] (RFC 8705 §3)',
  })

  const otherStep = { step: 'a certificate-bound token presented with another client certificate from the same CA must be rejected with 401 invalid_token', note: 'client certificate: another client certificate from the same CA', failureHint: handshake }
  expectRejected(exchange.context(otherStep, request), await exchange.send(otherStep, request, via(other)), {
    error: 'invalid_token',
    fix: 'the server accepted a certificate-bound token with a certificate it is not bound to: compare the certificate\'s thumbprint with cnf["x5t#S256"], not only that a trusted certificate is present (RFC 8705 §3)',
  })

  const trusted = options.trustedProxyHeader?.toLowerCase()
  const headers = Object.fromEntries(Object.entries(proxyHeaders(bound)).filter(([name]) => name !== trusted))
  const headerStep = {
    step: 'a certificate-bound token with the bound certificate only in proxy headers (no client certificate) must be rejected with 401 invalid_token',
    note: `client certificate: none on the connection; headers sent: ${Object.keys(headers).join(', ')}`,
  }
  const fromHeaders = requestTo(target, { ...headers, authorization: `Bearer ${token}` })
  expectRejected(exchange.context(headerStep, fromHeaders), await exchange.send(headerStep, fromHeaders, via(undefined)), {
    error: 'invalid_token',
    fix: 'the server took the client certificate from a request header any client can set: read it from the TLS connection (RFC 8705 §3), or from the one header your TLS-terminating proxy sets and strips from client requests, and name that header in trustedProxyHeader',
  })

  // The proof is valid in every respect, so only the binding can refuse it.
  const dpopStep = { step: 'a certificate-bound token under the DPoP scheme with a valid proof (no client certificate) must be rejected with 401', note: 'client certificate: no client certificate' }
  const key = await createDpopKey()
  const htu = options.publicUrl ?? await publicUrlOf(helper, target.url, aud, () => discoverResource(exchange, target, via(bound)))
  const underDpop = await sendWithProof(exchange, dpopStep, { ...target, aud, htu }, { key, token, scheme: 'DPoP' }, via(undefined))
  // Without DPoP on, the DPoP scheme is an unsupported one: a 401 with no error code is right (RFC 6750 §3.1).
  const offered = dpopOffered(underDpop.response)
  expectRejected(exchange.context(dpopStep, underDpop.request), underDpop.response, {
    error: offered ? 'invalid_token' : undefined,
    scheme: offered ? 'DPoP' : undefined,
    fix: 'the server accepted a certificate-bound token under the DPoP scheme: a token with cnf["x5t#S256"] needs its client certificate whatever the scheme, and the DPoP scheme needs a token bound with cnf.jkt',
  })
  return accepted
}

/** Whether the server's answer offers DPoP at all; without it, the DPoP scheme is just an unsupported one. */
const dpopOffered = (response: HttpResponseLike): boolean => challengesOf(response).some((c) => sameScheme(c, 'dpop'))
