// Turns a client's authentication setting into oauth4webapi's ClientAuth
// (none, client_secret_basic, client_secret_post, private_key_jwt with the
// issuer as the assertion's audience, RFC 7523bis), importing a key once.
import { importJWK, importPKCS8 } from 'jose'
import type { JWK } from 'jose'
import * as oauth from 'oauth4webapi'
import type { CryptoKey } from 'oauth4webapi'
import type { ClientAuthentication } from '../../types/client.js'

const imported = new WeakMap<object, Promise<oauth.PrivateKey>>()

function isCryptoKey (value: unknown): value is CryptoKey {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'private' && 'algorithm' in value && 'usages' in value
}

async function importKey (auth: Extract<ClientAuthentication, { method: 'private_key_jwt' }>): Promise<oauth.PrivateKey> {
  const { key } = auth
  if (isCryptoKey(key)) return { key, kid: auth.kid }
  if (typeof key === 'string') {
    const algorithm = auth.algorithm ?? 'ES256'
    return { key: await importPKCS8(key, algorithm) as CryptoKey, kid: auth.kid }
  }
  const jwk = key as JWK
  const algorithm = auth.algorithm ?? jwk.alg ?? 'ES256'
  return { key: await importJWK(jwk, algorithm) as CryptoKey, kid: auth.kid ?? jwk.kid }
}

// RFC 6749 §2.3.1: each part form-urlencoded (Appendix B, the WHATWG serializer),
// then joined with ":" and base64-encoded. oauth4webapi also escapes "-_.!~*'()",
// which form encoding leaves alone and which servers that do not decode the
// header (many do not) then read as a different client ID.
function formEncode (value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1)
}

function clientSecretBasic (secret: string): oauth.ClientAuth {
  return (_as, client, _body, headers) => {
    headers.set('authorization', `Basic ${Buffer.from(`${formEncode(client.client_id)}:${formEncode(secret)}`).toString('base64')}`)
  }
}

export async function clientAuthentication (auth: ClientAuthentication): Promise<oauth.ClientAuth> {
  switch (auth.method) {
    case 'client_secret_basic':
      return clientSecretBasic(auth.secret)
    case 'client_secret_post':
      return oauth.ClientSecretPost(auth.secret)
    case 'private_key_jwt': {
      let key = imported.get(auth)
      if (key === undefined) {
        key = importKey(auth)
        imported.set(auth, key)
      }
      return oauth.PrivateKeyJwt(await key)
    }
    default:
      return oauth.None()
  }
}
