// A headless user agent for development authorization servers: follows the
// authorization request's redirects with a cookie jar, signs in on a login form
// and approves a consent form (the development pages of
// fastify-mcp-auth/authorization-server, CSRF token included), and stops at the
// client's redirect URI. For tests and demos, never for real users.

export interface CompleteAuthorizationOptions {
  /** Default 'demo-user' (the development pages' default account). */
  username?: string
  /** Default 'demo'. */
  password?: string
  /** 'approve' (default) or 'deny' on the consent page. */
  consent?: 'approve' | 'deny'
  /** Requests to follow before giving up (default 20). */
  maxSteps?: number
}

interface Form {
  readonly fields: Map<string, string>
  readonly buttons: ReadonlyArray<{ name: string, value: string }>
  readonly hasPassword: boolean
}

function decode (value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
}

function attribute (tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag)
  return match === null ? undefined : decode(match[1] as string)
}

function parseForms (html: string): Form[] {
  const forms: Form[] = []
  for (const [, inner] of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const fields = new Map<string, string>()
    const buttons: Array<{ name: string, value: string }> = []
    let hasPassword = false
    for (const [tag] of (inner as string).matchAll(/<(?:input|button)\b[^>]*>/gi)) {
      const name = attribute(tag, 'name')
      if (name === undefined) continue
      const value = attribute(tag, 'value') ?? ''
      if (/^<button/i.test(tag)) buttons.push({ name, value })
      else {
        if (attribute(tag, 'type') === 'password') hasPassword = true
        fields.set(name, value)
      }
    }
    forms.push({ fields, buttons, hasPassword })
  }
  return forms
}

function formBody (html: string, options: Required<Omit<CompleteAuthorizationOptions, 'maxSteps'>>): URLSearchParams {
  const forms = parseForms(html)
  const login = forms.find((f) => f.hasPassword)
  if (login !== undefined) {
    const body = new URLSearchParams([...login.fields])
    body.set('username', options.username)
    body.set('password', options.password)
    const submit = login.buttons[0]
    if (submit !== undefined) body.set(submit.name, submit.value)
    return body
  }
  for (const form of forms) {
    const button = form.buttons.find((b) => b.value === options.consent)
    if (button === undefined) continue
    const body = new URLSearchParams([...form.fields])
    body.set(button.name, button.value)
    return body
  }
  throw new Error('completeAuthorization: the page has neither a login form nor a consent form to answer')
}

/**
 * Drives `authorizationUrl` to the client's `redirectUri` the way a person in a
 * browser would on a development authorization server, and resolves with the
 * redirect URL (carrying `code` and `iss`, or `error`).
 */
export async function completeAuthorization (authorizationUrl: string | URL, redirectUri: string, options: CompleteAuthorizationOptions = {}): Promise<URL> {
  const settings = { username: options.username ?? 'demo-user', password: options.password ?? 'demo', consent: options.consent ?? 'approve' }
  const cookies = new Map<string, string>()
  let url = new URL(authorizationUrl)
  let body: URLSearchParams | undefined
  for (let step = 0; step < (options.maxSteps ?? 20); step++) {
    const cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const headers: Record<string, string> = cookie === '' ? {} : { cookie }
    const res = await fetch(url, { method: body === undefined ? 'GET' : 'POST', body, headers, redirect: 'manual' })
    body = undefined
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name)
      else cookies.set(name, value)
    }
    const location = res.headers.get('location')
    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.body?.cancel()
      url = new URL(location, url)
      if (url.href.startsWith(redirectUri)) return url
      continue
    }
    const text = await res.text()
    if (res.status !== 200 || !/<form\b/i.test(text)) {
      throw new Error(`completeAuthorization: expected a redirect or a form from ${url.origin}${url.pathname}, got ${res.status}: ${text.slice(0, 200)}`)
    }
    body = formBody(text, settings)
  }
  throw new Error('completeAuthorization: too many steps before reaching the redirect URI')
}
