// AuthInfo.resource must be a URL (the MCP SDK's type), but building one per
// request costs more than the rest of a cache hit. One instance per resource is
// shared instead, so it must not be mutable: every setter throws and
// `searchParams` is a detached copy (URLSearchParams would write through).
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
Object.defineProperty(ReadonlyURL.prototype, 'searchParams', {
  get (this: URL) { return new URLSearchParams(this.search) },
  enumerable: true,
  configurable: true,
})
