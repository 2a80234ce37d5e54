// What the conformance runner runs: the suite's version, the client under test, and the
// scenarios of each run, written out so that an upgrade of the suite shows up as a diff here
// and in the baseline.
import { resolve } from 'node:path'

/** The pinned suite (package.json pins the same version exactly). */
export const SUITE_VERSION = '0.2.0-alpha.12'

/**
 * The client under test, as the suite spawns it: the command, split on single spaces, with
 * the scenario's MCP server URL appended as the last argument (so no path may contain a
 * space). `CONFORMANCE_CLIENT` (or `npm run conformance -- --client "<command>"`) replaces
 * it; this default is the only place that names the client toolkit's conformance adapter.
 */
export function clientUnderTest (env: NodeJS.ProcessEnv = process.env): string {
  const command = env.CONFORMANCE_CLIENT?.trim()
  if (command !== undefined && command !== '') return command
  return `${process.execPath} ${resolve(import.meta.dirname, 'client.js')}`
}

export type RunName = 'auth' | 'extensions' | 'backcompat' | 'draft' | 'authorization' | 'authorization-resource' | 'authorization-path'

export interface ClientRun {
  readonly kind: 'client'
  readonly name: RunName
  /** `suite` runs the suite's own list in one process; `scenarios` runs one process per name. */
  readonly suite?: string
  readonly scenarios: readonly string[]
}

export interface AuthorizationServerRun {
  readonly kind: 'authorization'
  readonly name: RunName
  /** Whether the authorization request names the resource (`--resource`). */
  readonly resource: boolean
  /** The issuer's path (RFC 8414 path insertion), when the issuer has one. */
  readonly issuerPath?: string
  readonly scenarios: readonly string[]
}

export type Run = ClientRun | AuthorizationServerRun

const AUTHORIZATION_SERVER_SCENARIOS = ['authorization-server-metadata-endpoint', 'authorization-code-grant']

export const RUNS: readonly Run[] = [
  {
    kind: 'client',
    name: 'auth',
    suite: 'auth',
    scenarios: [
      'auth/metadata-default', 'auth/metadata-var1', 'auth/metadata-var2', 'auth/metadata-var3',
      'auth/basic-cimd', 'auth/scope-from-www-authenticate', 'auth/scope-from-scopes-supported',
      'auth/scope-omitted-when-undefined', 'auth/scope-step-up', 'auth/scope-retry-limit',
      'auth/token-endpoint-auth-basic', 'auth/token-endpoint-auth-post', 'auth/token-endpoint-auth-none',
      'auth/pre-registration',
    ],
  },
  {
    kind: 'client',
    name: 'extensions',
    suite: 'extensions',
    scenarios: [
      'auth/client-credentials-jwt', 'auth/client-credentials-basic', 'auth/enterprise-managed-authorization',
      'auth/dpop', 'auth/dpop-nonce', 'auth/wif-jwt-bearer',
    ],
  },
  {
    kind: 'client',
    name: 'backcompat',
    suite: 'backcompat',
    scenarios: ['auth/2025-03-26-oauth-metadata-backcompat', 'auth/2025-03-26-oauth-endpoint-fallback'],
  },
  // The draft (2026-07-28) authorization scenarios, by name: the draft suite also holds
  // scenarios that have nothing to do with authorization.
  {
    kind: 'client',
    name: 'draft',
    scenarios: [
      'auth/resource-mismatch', 'auth/offline-access-scope', 'auth/offline-access-not-supported',
      'auth/authorization-server-migration', 'auth/iss-supported', 'auth/iss-not-advertised',
      'auth/iss-supported-missing', 'auth/iss-wrong-issuer', 'auth/iss-unexpected', 'auth/iss-normalized',
      'auth/metadata-issuer-mismatch',
    ],
  },
  { kind: 'authorization', name: 'authorization', resource: false, scenarios: AUTHORIZATION_SERVER_SCENARIOS },
  { kind: 'authorization', name: 'authorization-resource', resource: true, scenarios: AUTHORIZATION_SERVER_SCENARIOS },
  { kind: 'authorization', name: 'authorization-path', resource: true, issuerPath: '/oauth', scenarios: AUTHORIZATION_SERVER_SCENARIOS },
]

/** Every scenario a baseline section may name. */
export const KNOWN_SCENARIOS = {
  client: new Set(RUNS.filter((run) => run.kind === 'client').flatMap((run) => run.scenarios)),
  authorization: new Set(AUTHORIZATION_SERVER_SCENARIOS),
} as const
