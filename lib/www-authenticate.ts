// WWW-Authenticate parsing (RFC 9110 §11.6.1): several challenges per line or
// per field line, quoted-string escapes, token68, case-insensitive names. The one
// parser of the suite: the testing kit and the client read challenges with it.

/** One challenge of a WWW-Authenticate field (RFC 9110 §11.6.1). */
export interface Challenge {
  /** As sent; schemes compare case-insensitively. */
  readonly scheme: string
  /** Parameter names lowercased, quoted-string values unescaped. */
  readonly params: Readonly<Record<string, string>>
  /** The token68 form (`Negotiate abc==`), for a challenge without parameters. */
  readonly token68?: string
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y
const SPACES = / +/y
const OWS = /[ \t]*/y
// Empty list elements are allowed (RFC 9110 §5.6.1): ", ,".
const SEPARATORS = /(?:[ \t]*,)*[ \t]*/y
const COMMA_SEPARATORS = /[ \t]*,(?:[ \t]*,)*[ \t]*/y
// token68 only when it is all that follows the scheme.
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y
const PARAM = /([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*(?:([!#$%&'*+.^_`|~0-9A-Za-z-]+)|"((?:[\t \x21\x23-\x5B\x5D-\x7E\x80-\xFF]|\\[\t \x21-\x7E\x80-\xFF])*)")/y
const PARAM_START = /[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*=/y

/**
 * Parses WWW-Authenticate (one value or several field lines) into challenges:
 * several challenges per line, quoted-string escapes, token68, case-insensitive
 * parameter names. Throws a SyntaxError on anything RFC 9110 does not allow.
 */
export function parseWwwAuthenticate (value: string | readonly string[] | number | undefined): Challenge[] {
  if (value === undefined) return []
  const lines = Array.isArray(value) ? value as readonly string[] : [String(value)]
  return lines.flatMap(parseLine)
}

function parseLine (text: string): Challenge[] {
  let pos = 0
  const take = (re: RegExp): RegExpExecArray | null => {
    re.lastIndex = pos
    const match = re.exec(text)
    if (match !== null) pos = re.lastIndex
    return match
  }
  const syntaxError = (expected: string): never => {
    throw new SyntaxError(`WWW-Authenticate: expected ${expected} at character ${pos + 1} of ${JSON.stringify(text)}`)
  }
  // Parameters and challenges share the comma: a list element is a parameter when it reads `name =`.
  const takeParams = (): Record<string, string> => {
    const params: Record<string, string> = {}
    for (let match = take(PARAM); match !== null; match = take(PARAM)) {
      const name = (match[1] as string).toLowerCase()
      if (Object.hasOwn(params, name)) syntaxError(`no second "${name}" parameter in one challenge`)
      params[name] = match[2] ?? (match[3] as string).replace(/\\(.)/g, '$1')
      const end = pos
      if (take(COMMA_SEPARATORS) === null) break
      PARAM_START.lastIndex = pos
      if (!PARAM_START.test(text)) {
        pos = end
        break
      }
    }
    return params
  }

  const challenges: Challenge[] = []
  take(SEPARATORS)
  while (pos < text.length) {
    const scheme = take(TOKEN)?.[0] ?? syntaxError('an auth-scheme')
    const spaced = take(SPACES) !== null
    const token68 = spaced ? take(TOKEN68)?.[0] : undefined
    const params = spaced && token68 === undefined ? takeParams() : {}
    challenges.push(token68 === undefined ? { scheme, params } : { scheme, params, token68 })
    take(OWS)
    if (pos < text.length && text[pos] !== ',') syntaxError('"," between challenges')
    take(SEPARATORS)
  }
  return challenges
}
