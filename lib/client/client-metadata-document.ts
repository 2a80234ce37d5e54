// The client's own metadata document (CIMD), checked before it is served: its
// `client_id` is exactly the URL it is served at, it names the client and its
// redirect URIs, and it holds nothing secret (the document is public).
import { invalidSetting } from '../errors.js'
import type { ClientMetadataDocumentOptions } from '../../types/client.js'

export interface ServedDocument {
  readonly path: string
  readonly url: string
  readonly body: string
  readonly cacheControl: string
}

const SECRET_FIELDS = ['client_secret', 'client_secret_expires_at', 'registration_access_token']
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

export function checkClientMetadataDocument (options: ClientMetadataDocumentOptions, baseUrl: string, redirectUri: string): ServedDocument {
  const owner = 'mcpClient clientMetadataDocument'
  if (typeof options !== 'object' || options === null) throw invalidSetting(`${owner} must be { path, document, cacheMaxAge? }`)
  const { path, document, cacheMaxAge = 3600 } = options
  if (typeof path !== 'string' || !path.startsWith('/') || path === '/' || /[?#]/.test(path)) {
    throw invalidSetting(`${owner}.path must be a path such as "/oauth/client.json" (the client ID is an https URL with a path)`)
  }
  if (typeof document !== 'object' || document === null) throw invalidSetting(`${owner}.document must be the client metadata object`)
  const url = `${baseUrl}${path}`
  if (!url.startsWith('https://')) throw invalidSetting(`${owner}: a client ID metadata document URL must be https; baseUrl is ${baseUrl}`)
  if (document.client_id !== url) {
    throw invalidSetting(`${owner}: document.client_id must equal the URL it is served at, ${url}; got ${JSON.stringify(document.client_id)}`)
  }
  if (typeof document.client_name !== 'string' || document.client_name === '') throw invalidSetting(`${owner}: document.client_name is required`)
  if (!Array.isArray(document.redirect_uris) || document.redirect_uris.length === 0 || !document.redirect_uris.every((uri) => typeof uri === 'string')) {
    throw invalidSetting(`${owner}: document.redirect_uris must list the redirect URIs`)
  }
  if (!document.redirect_uris.includes(redirectUri)) {
    throw invalidSetting(`${owner}: document.redirect_uris must include this app's callback, ${redirectUri}`)
  }
  for (const field of SECRET_FIELDS) {
    if (field in document) throw invalidSetting(`${owner}: document must not contain ${field} (the document is public)`)
  }
  const method = document.token_endpoint_auth_method
  if (typeof method === 'string' && method.startsWith('client_secret_')) {
    throw invalidSetting(`${owner}: token_endpoint_auth_method ${method} needs a shared secret, which a public document cannot hold; use none or private_key_jwt`)
  }
  const keys = (document.jwks as { keys?: unknown } | undefined)?.keys
  if (Array.isArray(keys) && keys.some((key) => typeof key === 'object' && key !== null && PRIVATE_JWK_MEMBERS.some((member) => member in key))) {
    throw invalidSetting(`${owner}: document.jwks holds a private or symmetric key; publish public keys only`)
  }
  if (!Number.isInteger(cacheMaxAge) || cacheMaxAge < 0 || cacheMaxAge > 86400 * 7) throw invalidSetting(`${owner}.cacheMaxAge must be whole seconds between 0 and 604800`)
  // RFC 7591 defaults to client_secret_basic, which a public document cannot satisfy: say none.
  const served = { ...document, token_endpoint_auth_method: method ?? 'none' }
  return Object.freeze({ path, url, body: JSON.stringify(served), cacheControl: `public, max-age=${cacheMaxAge}` })
}
