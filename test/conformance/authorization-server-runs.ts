// The authorization-server runs: the suite checks the development authorization server's
// metadata, then prints an authorization URL and waits for a person to sign in. We play that
// person: read the URL from its output, go through login and consent with a cookie-carrying
// fetch, and follow the redirect to the suite's callback server.
import { join } from 'node:path'
import { freePort } from '../helpers/net.js'
import type { AuthorizationServerRun } from './scenarios.js'
import type { Job } from './client-runs.js'
import { startSuite } from './suite-process.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const SCOPES = ['mcp:tools:read', 'mcp:tools:call']
const CLIENT_ID = 'conformance-suite'

export interface AuthorizationServerJobOptions {
  readonly dir: string
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  /** Bound on the whole run, the person's part included (the suite itself waits 5 minutes). */
  readonly timeoutMs: number
}

/** The authorization URL the suite printed: a line holding one URL on the issuer's origin. */
export function authorizationUrlIn (stdout: string, issuer: string): URL | undefined {
  for (const line of stdout.split('\n')) {
    const url = URL.parse(line.trim())
    if (url !== null && url.origin === new URL(issuer).origin && url.searchParams.has('response_type')) return url
  }
  return undefined
}

/** Whether the suite's callback server listens (it says so once it does). */
export function callbackListening (stdout: string, port: number): boolean {
  return stdout.split('\n').some((line) => line.trim() === `Callback server started: http://127.0.0.1:${port}`)
}

export function authorizationServerJob (run: AuthorizationServerRun, options: AuthorizationServerJobOptions): Job {
  return {
    label: `${run.name}: ${run.resource ? `--resource ${RESOURCE}` : 'no resource'}${run.issuerPath === undefined ? '' : `, issuer path ${run.issuerPath}`}`,
    async start () {
      // Loaded here: the example runs on the build (dist/), which a client-only run does not need.
      const { completeDevAuthorization, startAuthorizationServer } = await import('../../examples/authorization-server.js')
      const port = await freePort()
      const redirectUri = `http://127.0.0.1:${port}/callback`
      const as = await startAuthorizationServer({
        quiet: true,
        path: run.issuerPath ?? '',
        resources: [{ uri: RESOURCE, scopes: SCOPES }],
        clients: [{ client_id: CLIENT_ID, token_endpoint_auth_method: 'none', redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
      })
      try {
        let driving: Promise<void> | undefined
        const args = ['authorization', '--url', as.issuer, '--client-id', CLIENT_ID, '-p', String(port), '-o', options.dir]
        if (run.resource) args.push('--resource', RESOURCE)
        const suite = startSuite(args, {
          cwd: options.cwd,
          env: options.env,
          log: join(options.dir, 'cli.log'),
          timeoutMs: options.timeoutMs,
          onStdout (stdout) {
            const url = authorizationUrlIn(stdout, as.issuer)
            if (driving !== undefined || url === undefined || !callbackListening(stdout, port)) return
            driving = (async () => {
              const callback = await completeDevAuthorization(url, redirectUri)
              const response = await fetch(callback)
              await response.body?.cancel()
            })()
            // Left waiting, the suite would hold the run for 5 minutes: end it; the missing
            // result then fails the scenario.
            driving.catch(() => suite.kill())
          },
        })
        await suite.exited
        await driving?.catch((err: unknown) => {
          throw new Error(`driving the authorization failed: ${err instanceof Error ? err.message : String(err)}`)
        })
      } finally {
        await as.close()
      }
    },
  }
}
