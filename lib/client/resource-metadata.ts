// RFC 9728 discovery the MCP way: the challenge's `resource_metadata` first,
// then the path-inserted well-known URL, then the root one; the document's
// `resource` must name the server being called (oauth4webapi's exact check),
// or, MCP's one relaxation, a same-origin path prefix of it.
import * as oauth from 'oauth4webapi'
import { fail, isMcpClientError } from './errors.js'
import type { Outbound } from './outbound.js'

export interface ResourceMetadata {
  /** The document's `resource`, verbatim: what the client sends as `resource` (RFC 8707). */
  readonly resource: string
  readonly authorizationServers: readonly string[]
  readonly scopesSupported: readonly string[] | undefined
  /** Where the document came from. */
  readonly url: string
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource'

/** The server URL as a resource identifier: no query, no fragment. */
export function canonicalServerUrl (url: URL): URL {
  const canonical = new URL(url.href)
  canonical.search = ''
  canonical.hash = ''
  return canonical
}

/** The URLs to try, in the order MCP (2025-11-25 and later) gives. */
export function resourceMetadataUrls (server: URL, fromChallenge: string | undefined): string[] {
  const urls: string[] = []
  if (fromChallenge !== undefined) {
    try {
      urls.push(new URL(fromChallenge).href)
    } catch {}
  }
  const path = server.pathname === '/' ? '' : server.pathname.replace(/\/$/, '')
  if (path !== '') urls.push(`${server.origin}${WELL_KNOWN}${path}`)
  urls.push(`${server.origin}${WELL_KNOWN}`)
  return [...new Set(urls)]
}

/**
 * MCP accepts a document naming the server's origin or a path prefix of the
 * server URL (the root document of a host serving one MCP server), never
 * another origin and never a sibling path.
 */
export function resourceCovers (resource: string, server: URL): boolean {
  let url: URL
  try {
    url = new URL(resource)
  } catch {
    return false
  }
  if (url.origin !== server.origin || url.search !== '' || url.hash !== '') return false
  if (url.pathname === '/' || url.pathname === server.pathname) return true
  const prefix = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`
  return server.pathname.startsWith(prefix)
}

function stringList (value: unknown): readonly string[] | undefined {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined
  return Object.freeze([...value] as string[])
}

async function readDocument (server: URL, response: Response, url: string): Promise<oauth.ResourceServer> {
  try {
    return await oauth.processResourceDiscoveryResponse(server, response)
  } catch (err) {
    // oauth4webapi checked everything but the exact match; MCP's relaxation decides that part.
    if (err instanceof oauth.OperationProcessingError && err.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
      const body = (err.cause as { body?: oauth.ResourceServer } | undefined)?.body
      if (body !== undefined && typeof body.resource === 'string' && resourceCovers(body.resource, server)) return body
      throw fail.discovery('resource_metadata.resource_mismatch', `the resource metadata at ${url} names ${JSON.stringify(body?.resource)}, which is not ${server.href} or a same-origin path prefix of it (RFC 9728 §3.3)`, err)
    }
    throw fail.discovery('resource_metadata.invalid', `the resource metadata at ${url} is not a valid RFC 9728 document`, err)
  }
}

/**
 * Finds and checks the server's protected-resource metadata. Resolves with
 * undefined when no location has a document (a pre-2025-06-18 server);
 * rejects when a document exists but is wrong: a mismatched `resource` or
 * no authorization server is never skipped over.
 */
export async function discoverResourceMetadata (serverUrl: URL, fromChallenge: string | undefined, outbound: Outbound): Promise<ResourceMetadata | undefined> {
  const server = canonicalServerUrl(serverUrl)
  for (const url of resourceMetadataUrls(server, fromChallenge)) {
    let response: Response
    try {
      response = await outbound.oauth(url, { method: 'GET', headers: { accept: 'application/json' } })
    } catch (err) {
      // A refused URL (scheme, allowUrl, address) is a verdict, not a miss.
      if (isMcpClientError(err) && err.reason !== 'outbound.failed' && err.reason !== 'outbound.timeout') throw err
      throw fail.discovery('resource_metadata.invalid', `fetching the resource metadata at ${url} failed`, err)
    }
    if (response.status !== 200) {
      await response.body?.cancel()
      continue
    }
    const document = await readDocument(server, response, url)
    const authorizationServers = stringList(document.authorization_servers)
    if (authorizationServers === undefined || authorizationServers.length === 0) {
      throw fail.discovery('resource_metadata.no_authorization_server', `the resource metadata at ${url} names no authorization server`)
    }
    return Object.freeze({
      resource: document.resource,
      authorizationServers,
      scopesSupported: stringList(document.scopes_supported),
      url,
    })
  }
  return undefined
}
