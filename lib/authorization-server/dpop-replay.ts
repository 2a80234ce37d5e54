// A replayed DPoP proof at the token endpoint is answered `invalid_dpop_proof`.
// RFC 9449 §5: "If the DPoP proof is invalid, the authorization server issues an
// error response per Section 5.2 of RFC 6749 with invalid_dpop_proof"; a proof
// whose `jti` was seen before is refused as a replay (§11.1). oidc-provider
// answers that one refusal with `invalid_grant`, which tells a client its grant
// is gone (the MCP SDK then drops its tokens) when a fresh proof would do.
import { errors } from 'oidc-provider'

const REPLAY_DETAIL = 'DPoP proof JWT Replay detected'

/** The slice of oidc-provider's Provider this module uses. */
export interface ReplayAnswerProvider {
  on (event: 'grant.error', listener: (ctx: object, err: unknown) => void): unknown
  use (middleware: (ctx: { body?: unknown }, next: () => Promise<void>) => Promise<void>): unknown
}

/** True for oidc-provider's refusal of a DPoP proof `jti` seen before. */
export function isReplayedProof (err: unknown): boolean {
  return err instanceof errors.InvalidGrant && (err as { error_detail?: unknown }).error_detail === REPLAY_DETAIL
}

/** Rewrites the token endpoint's answer to a replayed proof (oidc-provider reports it as a grant error first). */
export function answerReplayedProofs (provider: ReplayAnswerProvider): void {
  const replayed = new WeakSet<object>()
  provider.on('grant.error', (ctx, err) => {
    if (isReplayedProof(err)) replayed.add(ctx)
  })
  provider.use(async (ctx, next) => {
    await next()
    if (replayed.has(ctx)) ctx.body = { error: 'invalid_dpop_proof', error_description: 'DPoP proof replay detected' }
  })
}
