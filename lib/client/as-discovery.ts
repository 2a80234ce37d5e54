// Authorization-server metadata in the order MCP requires (RFC 8414 path
// insertion, then OpenID Connect with insertion, then with appending), each
// document checked by oauth4webapi and then for an `issuer` identical to the
// one asked for, character for character (MCP 2026-07-28, RFC 8414 §3.3).
import * as oauth from 'oauth4webapi'
import { fail, isMcpClientError } from './errors.js'
import type { Outbound } from './outbound.js'

/** The well-known URLs for an issuer: three for an issuer with a path, two without. */
export function authorizationServerMetadataUrls (issuer: string): string[] {
  const url = new URL(issuer)
  const path = url.pathname.replace(/\/$/, '')
  if (path === '') {
    return [
      `${url.origin}/.well-known/oauth-authorization-server`,
      `${url.origin}/.well-known/openid-configuration`,
    ]
  }
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ]
}

async function readMetadata (issuer: string, response: Response, url: string): Promise<oauth.AuthorizationServer> {
  let metadata: oauth.AuthorizationServer
  try {
    metadata = await oauth.processDiscoveryResponse(new URL(issuer), response)
  } catch (err) {
    if (err instanceof oauth.OperationProcessingError && err.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
      throw fail.discovery('as_metadata.issuer_mismatch', `the authorization server metadata at ${url} is for another issuer than ${issuer}`, err)
    }
    throw fail.discovery('as_metadata.invalid', `the authorization server metadata at ${url} is not valid`, err)
  }
  // oauth4webapi compares normalized URLs; MCP wants the very same string (no trailing-slash tolerance).
  if (metadata.issuer !== issuer) {
    throw fail.discovery('as_metadata.issuer_mismatch', `the authorization server metadata at ${url} names issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}`)
  }
  return metadata
}

/**
 * Fetches the metadata of `issuer`. A location answering anything but 200 is
 * skipped; a document for another issuer stops the search (its endpoints
 * must not be used). Resolves with undefined when no location has one.
 */
export async function discoverAuthorizationServer (issuer: string, outbound: Outbound): Promise<oauth.AuthorizationServer | undefined> {
  for (const url of authorizationServerMetadataUrls(issuer)) {
    let response: Response
    try {
      response = await outbound.oauth(url, { method: 'GET', headers: { accept: 'application/json' } })
    } catch (err) {
      if (isMcpClientError(err) && err.reason !== 'outbound.failed' && err.reason !== 'outbound.timeout') throw err
      throw fail.discovery('as_metadata.missing', `fetching the authorization server metadata at ${url} failed`, err)
    }
    if (response.status !== 200) {
      await response.body?.cancel()
      continue
    }
    return await readMetadata(issuer, response, url)
  }
  return undefined
}

/**
 * MCP "Authorization Code Protection": proceed only when the metadata lists
 * S256. Metadata without the field is refused too, unless the issuer is one
 * the caller named as known to support PKCE without saying so.
 */
export function assertPkceSupported (metadata: oauth.AuthorizationServer, allowMissingMetadata: readonly string[]): void {
  const methods = metadata.code_challenge_methods_supported
  if (Array.isArray(methods) && methods.includes('S256')) return
  if (methods === undefined && allowMissingMetadata.includes(metadata.issuer)) return
  throw fail.discovery('as_metadata.pkce_unsupported', methods === undefined
    ? `the authorization server ${metadata.issuer} does not publish code_challenge_methods_supported; MCP clients must not proceed without PKCE support (list the issuer in pkce.allowMissingMetadata if it is known to support S256)`
    : `the authorization server ${metadata.issuer} does not support PKCE with S256`)
}
