// Stateless HMAC nonces (RFC 9449 §8, §9; EDGE-18), driven by an injected clock.
import t from 'tap'
import { createHmacNonceProvider, issueNonce } from '../../lib/dpop/nonce.js'
import { McpAuthError } from '../../lib/errors.js'

const SECRET = 'a'.repeat(32)
const T0 = 1_700_000_040 // an exact multiple of 60: the start of a step
// RFC 9449 §8.1: NQCHAR = %x21 / %x23-5B / %x5D-7E
const NQCHAR = /^[\x21\x23-\x5B\x5D-\x7E]+$/
// base64url(step 28,333,334 as 4 bytes ‖ HMAC-SHA256(SECRET, 'fastify-mcp-auth dpop nonce v1\\0' ‖ step)[0..16]),
// computed apart from the provider.
const KNOWN_NONCE = 'AbBVFrStFMhOvYLXN_dWOM2cpIQ'

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

t.test('the nonce format is fixed: a known secret and step give a known nonce (instances of other releases agree)', async (t) => {
  // Step 28,333,334 (T0 / 60): 4 bytes of step, then HMAC-SHA256(secret, label ‖ step) cut to 16 bytes.
  const provider = createHmacNonceProvider({ secret: SECRET, clock: clockAt(T0).clock })
  t.equal(await provider.issue(), KNOWN_NONCE)
  t.equal(createHmacNonceProvider({ secret: Buffer.from(SECRET), clock: clockAt(T0).clock }).issue(), KNOWN_NONCE, 'the same secret as bytes')
})

t.test('the first nonce is issued whatever the step number, step 1 included', async (t) => {
  for (const now of [0, 60, 61, 119]) {
    const nonce = await createHmacNonceProvider({ secret: SECRET, clock: clockAt(now).clock }).issue()
    t.match(nonce, /^[A-Za-z0-9_-]{27}$/, `at ${now} s`)
  }
})

t.test('a nonce is accepted in its canonical base64url form only', async (t) => {
  const provider = createHmacNonceProvider({ secret: SECRET, clock: clockAt(T0).clock })
  const nonce = await provider.issue()
  // The last of 27 characters carries 2 unused bits: setting them decodes to the same bytes.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(nonce.at(-1) ?? '')
  const variant = nonce.slice(0, -1) + alphabet[last | 1]
  t.not(variant, nonce)
  t.same(Buffer.from(variant, 'base64url'), Buffer.from(nonce, 'base64url'), 'the same bytes')
  t.equal(createHmacNonceProvider({ secret: SECRET, clock: clockAt(T0).clock }).check(variant), 'invalid')
})

t.test('issueNonce: a provider failure is a 503 nonce.failed carrying the failure', async (t) => {
  const boom = new Error('provider down')
  const err = await issueNonce({ issue () { throw boom }, check: () => 'invalid' }).catch((e: unknown) => e)
  t.ok(err instanceof McpAuthError)
  t.match(err, { code: 'FST_MCP_AUTH_UNAVAILABLE', statusCode: 503, reason: 'nonce.failed' })
  t.equal((err as Error).cause, boom, 'the provider\'s own error is the cause (logged)')
})

t.test('issueNonce: a value that is not 1*NQCHAR never becomes a nonce (RFC 9449 §8.1): 503 nonce.failed', async (t) => {
  for (const value of ['a b', 'x"y', 'back\\slash', '', 42, undefined]) {
    const err = await issueNonce({ issue: () => value as string, check: () => 'invalid' }).catch((e: unknown) => e)
    t.match(err, { code: 'FST_MCP_AUTH_UNAVAILABLE', reason: 'nonce.failed' }, JSON.stringify(value) ?? 'undefined')
    t.match((err as Error).cause, { name: 'TypeError', message: 'the nonce provider returned a value that is not 1*NQCHAR (RFC 9449 §8.1)' })
  }
  t.equal(await issueNonce({ issue: async () => 'ok!#~', check: () => 'invalid' }), 'ok!#~', 'an asynchronous provider, any NQCHAR')
})
