// Public type surface of fastify-mcp-auth/testing: the helpers take a Fastify
// instance (http or https) as it is, their options are checked, and they
// return what their documentation says.
import Fastify from 'fastify'
import { describe, expect, test } from 'tstyche'
import {
  assertChallenge,
  assertDpopBoundBearerRejected,
  assertDpopProofAccepted,
  assertDpopProofChecksEnforced,
  assertMtlsBindingEnforced,
  assertReplayRejected,
  assertTokenValidationEnforced,
  createDpopKey,
  createDpopProof,
  createTestCa,
  createTestIssuer,
} from '../testing.js'
import type {
  Challenge,
  ChallengeExpectation,
  DpopAssertionOptions,
  DpopProofChecksOptions,
  DpopProofFlaw,
  HelperOptions,
  HttpResponseLike,
  Injectable,
  TokenValidationOptions,
} from '../testing.js'

const app = Fastify()
const issuer = await createTestIssuer()
const ca = await createTestCa()

describe('the helpers take a Fastify instance and return what they say', () => {
  test('a Fastify instance, http or https, is an Injectable', () => {
    expect(app).type.toBeAssignableTo<Injectable>()
    const tls = Fastify({ https: { key: '', cert: '' } })
    expect(tls).type.toBeAssignableTo<Injectable>()
  })

  test('return types', () => {
    expect(assertDpopBoundBearerRejected(app, { url: '/mcp', issuer })).type.toBe<Promise<void>>()
    expect(assertDpopProofAccepted(app, { url: '/mcp', issuer })).type.toBe<Promise<HttpResponseLike>>()
    expect(assertReplayRejected(app, { url: '/mcp', issuer })).type.toBe<Promise<HttpResponseLike>>()
    expect(assertDpopProofChecksEnforced(app, { url: '/mcp', issuer })).type.toBe<Promise<void>>()
    expect(assertTokenValidationEnforced(app, { url: '/mcp', issuer })).type.toBe<Promise<void>>()
    expect(assertMtlsBindingEnforced({ url: 'https://127.0.0.1:1/mcp', issuer, ca })).type.toBe<Promise<HttpResponseLike>>()
    expect(assertChallenge({ statusCode: 401, headers: {}, body: '' })).type.toBe<Challenge[]>()
  })
})

describe('options', () => {
  test('every helper that sends requests takes a timeout in milliseconds', () => {
    expect<DpopAssertionOptions>().type.toBeAssignableTo<HelperOptions>()
    expect<DpopProofChecksOptions>().type.toBeAssignableTo<HelperOptions>()
    expect<TokenValidationOptions>().type.toBeAssignableTo<HelperOptions>()
    expect(assertMtlsBindingEnforced).type.toBeCallableWith({ url: '', issuer, ca, timeout: 5000 })
    expect(assertDpopProofAccepted).type.not.toBeCallableWith(app, { url: '/mcp', issuer, timeout: '5s' })
  })

  test('assertDpopProofChecksEnforced: iatWindow in seconds', () => {
    expect(assertDpopProofChecksEnforced).type.toBeCallableWith(app, { url: '/mcp', issuer, iatWindow: 600 })
    expect(assertDpopProofChecksEnforced).type.not.toBeCallableWith(app, { url: '/mcp' })
  })

  test('assertTokenValidationEnforced: scheme, otherAudiences, tokenTypes', () => {
    expect(assertTokenValidationEnforced).type.toBeCallableWith(app, { url: '/mcp', issuer, scheme: 'DPoP', otherAudiences: ['account'], tokenTypes: ['at+jwt', 'JWT'] })
    expect(assertTokenValidationEnforced).type.not.toBeCallableWith(app, { url: '/mcp', issuer, scheme: 'bearer' })
    const audiences: readonly string[] = ['https://calendar.example.com']
    expect(assertTokenValidationEnforced).type.toBeCallableWith(app, { url: '/mcp', issuer, otherAudiences: audiences })
  })

  test('assertMtlsBindingEnforced: trustedProxyHeader and publicUrl', () => {
    expect(assertMtlsBindingEnforced).type.toBeCallableWith({ url: '', issuer, ca, trustedProxyHeader: 'x-client-cert', publicUrl: 'https://mcp.example.com/mcp' })
    expect(assertMtlsBindingEnforced).type.not.toBeCallableWith({ url: '', issuer })
  })

  test('assertChallenge: resourceMetadata is a URL or false; first is a boolean', () => {
    expect<ChallengeExpectation['resourceMetadata']>().type.toBe<string | false | undefined>()
    expect(assertChallenge).type.toBeCallableWith({ statusCode: 401, headers: {}, body: '' }, { status: 401, scheme: 'Bearer', first: true, resourceMetadata: false })
    expect(assertChallenge).type.not.toBeCallableWith({ statusCode: 401, headers: {}, body: '' }, { resourceMetadata: true })
  })

  test('the proof builder names the missing claims', async () => {
    expect<'missing-htm' | 'missing-htu' | 'missing-iat'>().type.toBeAssignableTo<DpopProofFlaw>()
    const key = await createDpopKey()
    expect(createDpopProof).type.toBeCallableWith(key, { method: 'GET', url: '', flaw: 'missing-htm' })
    expect(createDpopProof).type.not.toBeCallableWith(key, { method: 'GET', url: '', flaw: 'missing-everything' })
  })
})
