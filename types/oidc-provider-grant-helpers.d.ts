// oidc-provider's grant helpers (no declarations of their own): the DPoP checks
// and the token response its built-in grants use, for the ID-JAG grant.
declare module 'oidc-provider/lib/helpers/grants.js' {
  export function validateDpop (provider: unknown, ctx: unknown): Promise<unknown>
  export function checkDpopRequired (provider: unknown, ctx: unknown, dPoP: unknown): void
  export function buildTokenResponse (provider: unknown, response: {
    accessToken: string
    expiresIn?: number
    scope?: string
    tokenType: string
  }): Record<string, unknown>
}

declare module 'oidc-provider/lib/helpers/grant_common.js' {
  export function applyDpopBinding (provider: unknown, ctx: unknown, dPoP: unknown, token: unknown): Promise<void>
}
