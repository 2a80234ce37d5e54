// Stateless HMAC nonces (RFC 9449 §8, §9; EDGE-18), driven by an injected clock.
import t from 'tap'
import { createHmacNonceProvider } from '../../lib/dpop/nonce.js'

const SECRET = 'a'.repeat(32)
const T0 = 1_700_000_040 // an exact multiple of 60: the start of a step
// RFC 9449 §8.1: NQCHAR = %x21 / %x23-5B / %x5D-7E
const NQCHAR = /^[\x21\x23-\x5B\x5D-\x7E]+$/

function clockAt (start: number): { now: number, clock: () => number } {
  const state = { now: start, clock: () => state.now }
  return state
}

t.test('RFC 9449 §8.1: a nonce is 1*NQCHAR, the same for everyone within a step, new in the next', async (t) => {
  const time = clockAt(T0)
  const provider = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const first = await provider.issue()
  t.match(first, NQCHAR)
  t.equal(await provider.issue(), first, 'cached within the step')
  time.now = T0 + 59.9
  t.equal(await provider.issue(), first, 'still the same step')
  time.now = T0 + 60
  const second = await provider.issue()
  t.not(second, first, 'a new step, a new nonce')
  t.match(second, NQCHAR)
})

t.test('RFC 9449 §8: the current step is valid; the next step is valid (a peer clock slightly ahead)', async (t) => {
  const time = clockAt(T0)
  const provider = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const nonce = await provider.issue()
  t.equal(await provider.check(nonce), 'valid')
  time.now = T0 - 60 // the checking instance is one step behind the issuer
  t.equal(await provider.check(nonce), 'valid')
  time.now = T0 - 120
  t.equal(await provider.check(nonce), 'invalid', 'two steps ahead is not accepted')
})

t.test('a nonce another instance issued is remembered once checked: same answers, forgeries still refused, the next step still rotates', async (t) => {
  const time = clockAt(T0)
  const issuer = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const checker = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const nonce = await issuer.issue()
  const forged = nonce.slice(0, -2) + (nonce.endsWith('AA') ? 'AB' : 'AA')
  t.equal(await checker.check(forged), 'invalid')
  for (let i = 0; i < 3; i++) t.equal(await checker.check(nonce), 'valid', `check ${i}`)
  t.equal(await checker.check(forged), 'invalid', 'a forgery is not accepted after the real nonce was remembered')
  t.equal(await checker.issue(), nonce, 'the remembered nonce is the one this instance would issue')
  time.now = T0 + 60
  t.equal(await checker.check(nonce), 'rotate', 'a remembered nonce ages like any other')
  t.not(await checker.issue(), nonce)
})

t.test('RFC 9449 §8.2: the previous two steps are accepted with rotation; older is invalid (use_dpop_nonce)', async (t) => {
  const time = clockAt(T0)
  const provider = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const nonce = await provider.issue()
  time.now = T0 + 60
  t.equal(await provider.check(nonce), 'rotate', 'one step old')
  time.now = T0 + 179
  t.equal(await provider.check(nonce), 'rotate', 'two steps old')
  time.now = T0 + 180
  t.equal(await provider.check(nonce), 'invalid', 'three steps old')
  time.now = T0 + 86_400
  t.equal(await provider.check(nonce), 'invalid', 'a day old')
})

t.test('the step length is configurable', async (t) => {
  const time = clockAt(T0)
  const provider = createHmacNonceProvider({ secret: SECRET, step: 10, clock: time.clock })
  const nonce = await provider.issue()
  time.now = T0 + 10
  t.equal(await provider.check(nonce), 'rotate')
  time.now = T0 + 30
  t.equal(await provider.check(nonce), 'invalid')
})

t.test('EDGE-18: a nonce from another secret is invalid; string and byte secrets are the same secret', async (t) => {
  const time = clockAt(T0)
  const provider = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const other = createHmacNonceProvider({ secret: 'b'.repeat(32), clock: time.clock })
  const bytes = createHmacNonceProvider({ secret: new TextEncoder().encode(SECRET), clock: time.clock })
  t.equal(await provider.check(await other.issue()), 'invalid')
  t.equal(await provider.check(await bytes.issue()), 'valid', 'a cluster can configure the secret either way')
})

t.test('a tampered nonce is invalid (MAC and step are both covered)', async (t) => {
  const time = clockAt(T0)
  const provider = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const nonce = await provider.issue()
  const raw = Buffer.from(nonce, 'base64url')
  const flipMac = Buffer.from(raw)
  flipMac[19] = (flipMac[19] as number) ^ 1
  t.equal(await provider.check(flipMac.toString('base64url')), 'invalid', 'MAC changed')
  const flipStep = Buffer.from(raw)
  flipStep[3] = (flipStep[3] as number) ^ 1
  t.equal(await provider.check(flipStep.toString('base64url')), 'invalid', 'step changed, MAC kept')
  // 27 base64url characters carry 162 bits for 160: the last character's spare bits must be zero.
  const last = nonce.at(-1) as string
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string
  t.equal(await provider.check(nonce.slice(0, -1) + sibling), 'invalid', 'a non-canonical encoding of the same bytes')
})

t.test('a nonce of the wrong length or alphabet is invalid', async (t) => {
  const time = clockAt(T0)
  const provider = createHmacNonceProvider({ secret: SECRET, clock: time.clock })
  const nonce = await provider.issue()
  for (const value of ['', 'x', nonce.slice(0, -1), nonce + 'A', nonce + '=', 'A'.repeat(27), '!'.repeat(27), nonce.slice(0, -2) + '+/', ' '.repeat(27)]) {
    t.equal(await provider.check(value), 'invalid', JSON.stringify(value))
  }
})
