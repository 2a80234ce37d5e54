// The mcpClient plugin's options, resolved once at register: the app's public
// origin, the callback route, the hosted metadata document, the partition
// function, and the client options (private networks refused by default).
import { invalidSetting } from '../errors.js'
import { isLoopbackHost } from '../resource.js'
import { nearest } from '../suggest.js'
import type { McpClientPluginOptions } from '../../types/client.js'
import { checkClientMetadataDocument } from './client-metadata-document.js'
import type { ServedDocument } from './client-metadata-document.js'
import { resolveClientOptions } from './options.js'
import type { ResolvedClientOptions } from './options.js'

export interface ResolvedPluginOptions {
  readonly baseUrl: string
  readonly callbackPath: string
  readonly redirectUri: string
  readonly document: ServedDocument | undefined
  readonly partition: McpClientPluginOptions['partition']
  readonly client: ResolvedClientOptions
}

const OWNER = 'mcpClient'
const PLUGIN_KEYS = ['baseUrl', 'callbackPath', 'clientMetadataDocument', 'partition']
const CLIENT_KEYS = [
  'preRegistered', 'clientMetadata', 'grant', 'store', 'dpop', 'scopes', 'pkce', 'fetch', 'timeout',
  'maxResponseBytes', 'allowUrl', 'allowPrivateNetworks', 'legacyDiscovery',
]

function resolveBaseUrl (value: unknown): string {
  let url: URL | undefined
  try {
    url = new URL(String(value))
  } catch {}
  if (typeof value !== 'string' || url === undefined || (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' ||
      !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname)))) {
    throw invalidSetting(`${OWNER}: baseUrl must be this app's public origin, e.g. https://app.example.com (https; http only for loopback); got ${JSON.stringify(value)}`)
  }
  return url.origin
}

export function resolvePluginOptions (input: unknown): ResolvedPluginOptions {
  if (typeof input !== 'object' || input === null) throw invalidSetting(`${OWNER}: options must be an object`)
  const options = input as McpClientPluginOptions & Record<string, unknown>
  for (const key of Object.keys(options)) {
    if (PLUGIN_KEYS.includes(key) || CLIENT_KEYS.includes(key)) continue
    const hint = nearest(key, [...PLUGIN_KEYS, ...CLIENT_KEYS])
    const why = ['authorize', 'redirectUri', 'clientMetadataUrl'].includes(key) ? ' (the plugin sets it: callbackPath, clientMetadataDocument)' : ''
    throw invalidSetting(`${OWNER}: "${key}" is not a known option${why}${hint === undefined ? '' : `; did you mean "${hint}"?`}`)
  }
  const baseUrl = resolveBaseUrl(options.baseUrl)
  const callbackPath = options.callbackPath ?? '/oauth/mcp/callback'
  if (typeof callbackPath !== 'string' || !callbackPath.startsWith('/') || /[?#]/.test(callbackPath)) {
    throw invalidSetting(`${OWNER}: callbackPath must be a path such as "/oauth/mcp/callback"`)
  }
  if (typeof options.partition !== 'function') {
    throw invalidSetting(`${OWNER}: partition(request) is required: it names the user whose credentials a request uses (e.g. (request) => request.user.id)`)
  }
  const redirectUri = `${baseUrl}${callbackPath}`
  const document = options.clientMetadataDocument === undefined ? undefined : checkClientMetadataDocument(options.clientMetadataDocument, baseUrl, redirectUri)
  const clientOptions: Record<string, unknown> = {}
  for (const key of CLIENT_KEYS) if (options[key] !== undefined) clientOptions[key] = options[key]
  const client = resolveClientOptions({ ...clientOptions, redirectUri, clientMetadataUrl: document?.url }, {
    owner: OWNER,
    allowPrivateNetworksByDefault: false,
    authorizationDeferred: true,
  })
  return Object.freeze({ baseUrl, callbackPath, redirectUri, document, partition: options.partition, client })
}
