// A throwaway CA and the certificates mTLS tests need (RFC 8705): client
// certificates with their x5t#S256, and a server certificate for a loopback
// HTTPS listener. node:crypto only: the few DER structures of RFC 5280 are
// written by hand below, so no openssl binary and no extra package is needed
// (@peculiar/x509 v2 would also need a global Reflect polyfill).
import { createHash, generateKeyPair, randomBytes, sign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { isIP } from 'node:net'
import { promisify } from 'node:util'

export interface TestCaOptions {
  /** Subject common name of the CA (default 'fastify-mcp-auth test CA'). */
  commonName?: string
  /** Validity in days of the CA and of everything it issues (default 1). */
  days?: number
}

export interface TestClientCertificate {
  readonly certificatePem: string
  /** PKCS#8 PEM. */
  readonly keyPem: string
  readonly der: Uint8Array
  /** base64url(SHA-256(DER)): the token's `cnf["x5t#S256"]` (RFC 8705 §3.1). */
  readonly x5t: string
}

export interface TestServerCertificate {
  readonly certificatePem: string
  readonly keyPem: string
}

export interface TestCa {
  readonly certificatePem: string
  readonly keyPem: string
  issueClientCertificate (options?: { commonName?: string }): Promise<TestClientCertificate>
  /** `hosts` become subjectAltName entries (IP or DNS), e.g. ['127.0.0.1', 'localhost']. */
  issueServerCertificate (options: { hosts: readonly string[] }): Promise<TestServerCertificate>
}

const generateEcKeyPair = promisify(generateKeyPair)

// ——— DER (X.690), just what a certificate needs ———

function tlv (tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  const n = body.length
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]
  return Buffer.concat([Buffer.from([tag, ...length]), body])
}

const sequence = (...content: Buffer[]): Buffer => tlv(0x30, ...content)
const octetString = (content: Buffer): Buffer => tlv(0x04, content)
const bitString = (content: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.from([unusedBits]), content)
const TRUE = Buffer.from([0x01, 0x01, 0xff])

function oid (dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number)
  const bytes = [first * 40 + second]
  for (const arc of rest) {
    const base128 = [arc & 0x7f]
    for (let v = arc >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80)
    bytes.push(...base128)
  }
  return tlv(0x06, Buffer.from(bytes))
}

function time (date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]|\.\d+/g, '')
  // UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(text.slice(2))) : tlv(0x18, Buffer.from(text))
}

const commonName = (cn: string): Buffer => sequence(tlv(0x31, sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))))

function extension (id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), TRUE, octetString(value)) : sequence(oid(id), octetString(value))
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'))
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'

interface Subject { readonly name: Buffer, readonly keyId: Buffer, readonly privateKey: KeyObject, readonly keyPem: string }

async function newKey (cn: string): Promise<Subject & { spki: Buffer }> {
  const { publicKey, privateKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' })
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  return {
    name: commonName(cn),
    spki,
    keyId: createHash('sha1').update(spki).digest(),
    privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  }
}

function toPem (der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`
}

export async function createTestCa (options: TestCaOptions = {}): Promise<TestCa> {
  // Backdated a minute so a peer whose clock is slightly behind still accepts them.
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000)
  const days = options.days ?? 1
  if (!(days > 0)) throw new TypeError(`createTestCa days must be a positive number; got ${String(days)}`)
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000)

  function certificate (subject: Subject & { spki: Buffer }, issuer: Subject, extensions: Buffer[]): Buffer {
    // Positive 63-bit serial (RFC 5280 §4.1.2.2): sign bit clear, first byte non-zero (minimal DER).
    const serialBytes = randomBytes(8)
    serialBytes[0] = ((serialBytes[0] as number) & 0x3f) | 0x40
    const serial = tlv(0x02, serialBytes)
    const tbs = sequence(
      tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version v3
      serial,
      ECDSA_WITH_SHA256,
      issuer.name,
      sequence(time(notBefore), time(notAfter)),
      subject.name,
      subject.spki,
      tlv(0xa3, sequence(
        ...extensions,
        extension('2.5.29.14', false, octetString(subject.keyId)),
        extension('2.5.29.35', false, sequence(tlv(0x80, issuer.keyId)))
      ))
    )
    return sequence(tbs, ECDSA_WITH_SHA256, bitString(sign('sha256', tbs, issuer.privateKey)))
  }

  async function issueLeaf (cn: string, extensions: Buffer[]): Promise<{ der: Buffer, keyPem: string }> {
    const leaf = await newKey(cn)
    const der = certificate(leaf, ca, [
      extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
      extension('2.5.29.15', true, bitString(Buffer.from([0x80]), 7)), // keyUsage: digitalSignature
      ...extensions,
    ])
    return { der, keyPem: leaf.keyPem }
  }

  const ca = await newKey(options.commonName ?? 'fastify-mcp-auth test CA')
  const caDer = certificate(ca, ca, [
    extension('2.5.29.19', true, sequence(TRUE, tlv(0x02, Buffer.from([0])))), // CA, pathLen 0
    extension('2.5.29.15', true, bitString(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
  ])

  return {
    certificatePem: toPem(caDer),
    keyPem: ca.keyPem,
    async issueClientCertificate ({ commonName: cn = 'test-client' } = {}) {
      const { der, keyPem } = await issueLeaf(cn, [extension('2.5.29.37', false, sequence(oid(CLIENT_AUTH)))])
      return { certificatePem: toPem(der), keyPem, der: new Uint8Array(der), x5t: createHash('sha256').update(der).digest('base64url') }
    },
    async issueServerCertificate ({ hosts }) {
      const first = hosts[0]
      if (first === undefined) throw new TypeError('issueServerCertificate needs at least one host, e.g. { hosts: [\'127.0.0.1\', \'localhost\'] }')
      // subjectAltName: iPAddress [7] (4 or 16 raw bytes) or dNSName [2].
      const names = hosts.map((host) => isIP(host) === 4
        ? tlv(0x87, Buffer.from(host.split('.').map(Number)))
        : isIP(host) === 6 ? tlv(0x87, ipv6Bytes(host)) : tlv(0x82, Buffer.from(host)))
      const { der, keyPem } = await issueLeaf(first, [
        extension('2.5.29.37', false, sequence(oid(SERVER_AUTH))),
        extension('2.5.29.17', false, sequence(...names)),
      ])
      return { certificatePem: toPem(der), keyPem }
    },
  }
}

function ipv6Bytes (address: string): Buffer {
  if (/[.%]/.test(address)) throw new TypeError(`issueServerCertificate: write ${address} without an embedded IPv4 part or zone`)
  const [head = '', tail = ''] = address.split('::')
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'))
  const left = groups(head)
  const right = groups(tail)
  const all = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  return Buffer.from(all.flatMap((g) => { const v = Number.parseInt(g, 16); return [v >> 8, v & 0xff] }))
}
