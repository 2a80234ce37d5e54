// Stateless server nonces for DPoP (RFC 9449 §8, §9): a nonce is a time step
// and an HMAC over it. Any instance holding the same secret can check it, so
// nothing is stored and a load balancer needs no affinity.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { reject } from '../errors.js'

/** 'valid': accept. 'rotate': accept and send a fresh nonce. 'invalid': answer use_dpop_nonce. */
export type NonceVerdict = 'valid' | 'rotate' | 'invalid'

export interface DpopNonceProvider {
  /** A nonce to hand to the client (sent in `DPoP-Nonce`). */
  issue (): string | Promise<string>
  check (nonce: string): NonceVerdict | Promise<NonceVerdict>
}

export interface HmacNonceOptions {
  readonly secret: string | Uint8Array
  /** Seconds per time step (default 60). A nonce is accepted in its own step and the next two. */
  readonly step?: number
  /** Seconds since the epoch; injected by tests. */
  readonly clock?: () => number
}

const STEP_BYTES = 4
const MAC_BYTES = 16
const NONCE_BYTES = STEP_BYTES + MAC_BYTES
const ACCEPTED_PAST_STEPS = 2
const LABEL = Buffer.from('fastify-mcp-auth dpop nonce v1\0')

export function createHmacNonceProvider (options: HmacNonceOptions): DpopNonceProvider {
  const secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret)
  const step = options.step ?? 60
  const clock = options.clock ?? (() => Date.now() / 1000)
  let cachedStep = -1
  let cachedNonce = ''

  function mac (stepBytes: Buffer): Buffer {
    return createHmac('sha256', secret).update(LABEL).update(stepBytes).digest().subarray(0, MAC_BYTES)
  }

  function nonceFor (n: number): string {
    const stepBytes = Buffer.alloc(STEP_BYTES)
    stepBytes.writeUInt32BE(n >>> 0)
    return Buffer.concat([stepBytes, mac(stepBytes)]).toString('base64url')
  }

  function currentStep (): number {
    return Math.floor(clock() / step)
  }

  return {
    issue () {
      const now = currentStep()
      // One nonce per step for everyone: issuing costs one HMAC a minute.
      if (now !== cachedStep) {
        cachedStep = now
        cachedNonce = nonceFor(now)
      }
      return cachedNonce
    },
    check (nonce) {
      // The nonce handed out for the current step (public): no HMAC needed.
      if (nonce === cachedNonce && cachedStep === currentStep()) return 'valid'
      if (nonce.length !== 27) return 'invalid'
      const raw = Buffer.from(nonce, 'base64url')
      if (raw.length !== NONCE_BYTES || raw.toString('base64url') !== nonce) return 'invalid'
      const stepBytes = raw.subarray(0, STEP_BYTES)
      if (!timingSafeEqual(mac(stepBytes), raw.subarray(STEP_BYTES))) return 'invalid'
      const now = currentStep()
      const age = now - stepBytes.readUInt32BE(0)
      if (age === 0) {
        // The one nonce of the current step, issued by another instance or checked
        // before this one issued any: later checks of it need no HMAC.
        cachedStep = now
        cachedNonce = nonce
        return 'valid'
      }
      // age -1 tolerates an instance whose clock runs slightly ahead.
      if (age === -1) return 'valid'
      if (age > 0 && age <= ACCEPTED_PAST_STEPS) return 'rotate'
      return 'invalid'
    },
  }
}

// RFC 9449 §8.1: nonce = 1*NQCHAR
const NONCE = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** A fresh nonce for a use_dpop_nonce answer or a rotation; a provider failure is a 503. */
export async function issueNonce (provider: DpopNonceProvider): Promise<string> {
  let nonce: unknown
  try {
    nonce = await provider.issue()
  } catch (err) {
    throw reject.unavailable('nonce.failed', err)
  }
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) {
    throw reject.unavailable('nonce.failed', new TypeError('the nonce provider returned a value that is not 1*NQCHAR (RFC 9449 §8.1)'))
  }
  return nonce
}
