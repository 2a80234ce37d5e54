// Failure messages of the testing kit: node:assert's AssertionError naming the
// helper, the step, the problems, what to fix, the request and the response,
// never a whole token or proof; its stack starts at the caller's line.
import { AssertionError } from 'node:assert'
import type { HttpResponseLike, InjectRequest } from './exchange.js'

export interface Context {
  readonly helper: string
  /** What was being checked, as a sentence. */
  readonly step: string
  readonly request?: InjectRequest | undefined
  readonly note?: string | undefined
}

export interface Details {
  readonly response?: HttpResponseLike | undefined
  /** What the server must change: said when it accepted something it must refuse. */
  readonly fix?: string | undefined
  /** Likely causes in the test's set-up or the app's configuration. */
  readonly hint?: string | ReadonlyArray<string | undefined> | undefined
  /** For a synchronous helper: where the stack starts. */
  readonly stackStartFn?: (...args: never[]) => unknown
}

export function assertionError (context: Context, problems: readonly string[], details: Details = {}): AssertionError {
  const { response, fix, hint, stackStartFn } = details
  const lines = [
    `${context.helper}: ${context.step}`,
    ...problems.map((problem) => `  - ${problem}`),
    ...(fix === undefined ? [] : [`  fix: ${fix}`]),
    ...[hint].flat().filter((line) => line !== undefined).map((line) => `  hint: ${line}`),
    ...(context.request === undefined ? [] : [`  request: ${describeRequest(context.request)}`]),
    ...(context.note === undefined ? [] : [`  ${context.note}`]),
    ...(response === undefined ? [] : [`  response: ${describeResponse(response)}`]),
  ]
  // No actual/expected: runners would render a diff of values the message already explains.
  return new AssertionError({ message: redactTokens(lines.join('\n')), operator: context.helper, stackStartFn })
}

// ——— Call site ———

/**
 * The caller's stack frames, captured synchronously when a helper is called:
 * after an await, a new error's stack holds only the helper's own frames.
 */
export function callSite (helper: (...args: never[]) => unknown): string {
  const holder: { stack?: string } = {}
  Error.captureStackTrace(holder, helper)
  const stack = holder.stack ?? ''
  const frames = stack.indexOf('\n')
  return frames === -1 ? '' : stack.slice(frames)
}

/** Awaits a helper's work; an error it throws gets the caller's frames as its stack, so runners point at the test's line. */
export async function fromCallSite<T> (site: string, work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    if (err instanceof Error && site !== '') {
      const stack = err.stack ?? ''
      const end = stack.indexOf(err.message)
      const head = end === -1 ? `${err.name}: ${err.message}` : stack.slice(0, end + err.message.length)
      err.stack = head + site
    }
    throw err
  }
}

// ——— Redaction and rendering ———

// A JWS in compact form: header and payload are base64url JSON objects ("eyJ" = '{"').
const JWS = /eyJ[\w-]*\.eyJ[\w-]*(?:\.[\w-]*)?/g
const MAX_BODY = 500
const MAX_HEADER = 60

/** Shortens every token and proof in a message to its first characters. */
export function redactTokens (text: string): string {
  return text.replace(JWS, (jws) => `${jws.slice(0, 12)}…[${jws.length} chars]`)
}

export function header (response: HttpResponseLike, name: string): string | undefined {
  const value = response.headers[name]
  return value === undefined ? undefined : Array.isArray(value) ? value.join(', ') : String(value)
}

export function show (value: string | undefined): string {
  return value === undefined ? '(none)' : value
}

// The headers a helper sets; the rest are the test's own.
const CREDENTIAL_HEADERS = new Set(['authorization', 'dpop'])

function describeRequest (req: InjectRequest): string {
  const shown = Object.entries(req.headers)
    .filter(([name]) => CREDENTIAL_HEADERS.has(name) || name.includes('cert'))
    .map(([name, value]) => `${name}: ${CREDENTIAL_HEADERS.has(name) || value.length <= MAX_HEADER ? value : `${value.slice(0, MAX_HEADER)}…`}`)
  return [`${req.method} ${req.url}`, ...shown].join('\n    ')
}

function describeResponse (response: HttpResponseLike): string {
  // Redacted before truncation, so a cut never leaves a partial token unrecognized.
  const text = redactTokens(response.body)
  const body = text.length > MAX_BODY ? `${text.slice(0, MAX_BODY)}… (${text.length} chars)` : text
  return [
    `status ${response.statusCode}`,
    `www-authenticate: ${show(header(response, 'www-authenticate'))}`,
    `cache-control: ${show(header(response, 'cache-control'))}`,
    ...(header(response, 'dpop-nonce') === undefined ? [] : [`dpop-nonce: ${header(response, 'dpop-nonce')}`]),
    `body: ${body === '' ? '(empty)' : body}`,
  ].join('\n    ')
}
