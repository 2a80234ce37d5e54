// fastify-mcp-auth/testing: what a user needs to prove, in their own test
// suite, that their server enforces audience, scopes and sender binding.
export { createTestIssuer, startTestIssuer } from './lib/testing/issuer.js'
export type { BindTarget, MintOptions, ServedTestIssuer, StartTestIssuerOptions, TestAlgorithm, TestIssuer, TestIssuerOptions } from './lib/testing/issuer.js'
export { accessTokenHash, createDpopKey, createDpopProof } from './lib/testing/dpop.js'
export type { DpopAlgorithm, DpopKey, DpopProofFlaw, DpopProofOptions } from './lib/testing/dpop.js'
export { createTestCa } from './lib/testing/certificates.js'
export type { TestCa, TestCaOptions, TestClientCertificate, TestServerCertificate } from './lib/testing/certificates.js'
export { assertChallenge, assertDpopBoundBearerRejected, assertDpopProofAccepted, assertMtlsBindingEnforced, assertReplayRejected, parseWwwAuthenticate } from './lib/testing/assertions.js'
export type { Challenge, ChallengeExpectation, DpopAssertionOptions, DpopBoundBearerOptions, HttpResponseLike, Injectable, InjectPayload, InjectRequest, MtlsBindingOptions } from './lib/testing/assertions.js'
