// The development login and consent pages: plain server-rendered HTML forms,
// keyboard-usable and accessible, safe to copy (every value escaped, the CSRF
// token the plugin checks in every form, no script, no inline style). The
// plugin refuses them under NODE_ENV=production.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ConsentDetails, InteractionsOptions, LoginDetails } from '../../types/authorization-server.js'

export interface DevelopmentUser {
  accountId: string
  password: string
}

export interface DevelopmentInteractionsOptions {
  /** Who may sign in, with which password. */
  users: readonly DevelopmentUser[]
}

const kDevelopment = Symbol.for('fastify-mcp-auth.developmentInteractions')

export function isDevelopmentInteractions (value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kDevelopment] === true
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml (value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)
}

function page (title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
<p><small>Development page of fastify-mcp-auth: not for production.</small></p>
</main>
</body>
</html>
`
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** Compares passwords without leaking their length or common prefix through timing. */
function samePassword (given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected))
}

function field (body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name]
  return typeof value === 'string' ? value : undefined
}

export function loginPage (details: LoginDetails, error?: string): string {
  return page('Sign in', `<p>${escapeHtml(details.client.name)} asks you to sign in.</p>
${error === undefined ? '' : `<p role="alert">${escapeHtml(error)}</p>`}
<form method="post" action="">
<input type="hidden" name="csrf" value="${escapeHtml(details.csrfToken)}">
<p><label for="username">Username</label><br>
<input id="username" name="username" autocomplete="username" required autofocus></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit" name="action" value="login">Sign in</button></p>
</form>
<form method="post" action="">
<input type="hidden" name="csrf" value="${escapeHtml(details.csrfToken)}">
<p><button type="submit" name="action" value="deny">Cancel</button></p>
</form>`)
}

export function consentPage (details: ConsentDetails): string {
  const scopes = details.scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('\n')
  const resources = details.resources.map((r) => `<li>${escapeHtml(r)}</li>`).join('\n')
  return page('Allow access?', `<p><strong>${escapeHtml(details.client.name)}</strong> wants to act as <strong>${escapeHtml(details.accountId)}</strong>.</p>
<p>After you answer you return to <strong>${escapeHtml(details.client.redirectHost)}</strong>.</p>
<h2>Permissions</h2>
<ul>
${scopes === '' ? '<li>No scope</li>' : scopes}
</ul>
${resources === '' ? '' : `<h2>Servers</h2>\n<ul>\n${resources}\n</ul>`}
<form method="post" action="">
<input type="hidden" name="csrf" value="${escapeHtml(details.csrfToken)}">
<p><button type="submit" name="action" value="approve">Allow</button>
<button type="submit" name="action" value="deny">Deny</button></p>
</form>`)
}

/**
 * Login and consent pages for development: `interactions: developmentInteractions({ users })`.
 * Without options the one user is demo-user with the password demo.
 */
export function developmentInteractions (options: DevelopmentInteractionsOptions = { users: [{ accountId: 'demo-user', password: 'demo' }] }): InteractionsOptions {
  const users = options?.users
  if (!Array.isArray(users) || users.length === 0 || users.some((u) => typeof u?.accountId !== 'string' || typeof u.password !== 'string')) {
    throw new TypeError('developmentInteractions needs { users: [{ accountId, password }, …] }')
  }
  const byId = new Map(users.map((u) => [u.accountId, u.password]))
  const html = (reply: FastifyReply, status: number, body: string): FastifyReply => reply.code(status).type('text/html; charset=utf-8').send(body)

  async function login (request: FastifyRequest, reply: FastifyReply, details: LoginDetails): Promise<unknown> {
    if (request.method !== 'POST') return html(reply, 200, loginPage(details))
    if (field(request.body, 'action') === 'deny') return details.deny('the user cancelled the sign-in')
    const username = field(request.body, 'username') ?? ''
    const expected = byId.get(username)
    // A missing user costs the same comparison as a wrong password.
    const matched = samePassword(field(request.body, 'password') ?? '', expected ?? '\0unknown')
    if (expected !== undefined && matched) return details.complete({ accountId: username })
    await details.failed(username)
    return html(reply, 401, loginPage(details, 'Wrong username or password.'))
  }

  async function consent (request: FastifyRequest, reply: FastifyReply, details: ConsentDetails): Promise<unknown> {
    if (request.method !== 'POST') return html(reply, 200, consentPage(details))
    if (field(request.body, 'action') === 'approve') return details.grant()
    return details.deny('the user denied the request')
  }

  return Object.freeze({ login, consent, [kDevelopment]: true })
}
