// AuthInfo.resource must be a URL (the MCP SDK's type), but building one per
// request costs more than the rest of a cache hit. One instance per resource is
// shared instead, so it must not be mutable: every setter throws, and so does
// every mutating method of `searchParams` (a detached copy each time, since the
// real URLSearchParams writes through to the URL).
export class ReadonlyURL extends URL {
  constructor (href: string) {
    super(href)
    Object.freeze(this)
  }
}

function readOnly (): never {
  throw new TypeError('this URL is shared by every request for the resource and is read-only; copy it with new URL(url.href)')
}

// URL's components are prototype accessors: keep each getter, refuse each setter.
for (const name of ['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']) {
  const inherited = Object.getOwnPropertyDescriptor(URL.prototype, name)
  Object.defineProperty(ReadonlyURL.prototype, name, { get: inherited?.get, set: readOnly, enumerable: true, configurable: true })
}
class ReadonlySearchParams extends URLSearchParams {
  override append (): never { return readOnly() }
  override delete (): never { return readOnly() }
  override set (): never { return readOnly() }
  override sort (): never { return readOnly() }
}

Object.defineProperty(ReadonlyURL.prototype, 'searchParams', {
  get (this: URL) { return new ReadonlySearchParams(this.search) },
  enumerable: true,
  configurable: true,
})
