// fastify-mcp-auth/schemas: the TypeBox schemas describe exactly the plain types the
// root entry exports, so a host can validate with one and type with the other.
import type { Static } from 'typebox'
import { expect, test } from 'tstyche'
import type { AuthorizationServerMetadata, OAuthErrorBody, ProtectedResourceMetadata } from '../index.js'
import type * as Root from '../index.js'
import type * as Schemas from '../schemas.js'
import { AuthorizationServerMetadataSchema, OAuthErrorBodySchema, ProtectedResourceMetadataSchema } from '../schemas.js'

test('each schema\'s static type and the plain type are assignable both ways', () => {
  expect<Static<typeof ProtectedResourceMetadataSchema>>().type.toBeAssignableTo<ProtectedResourceMetadata>()
  expect<ProtectedResourceMetadata>().type.toBeAssignableTo<Static<typeof ProtectedResourceMetadataSchema>>()
  expect<Static<typeof AuthorizationServerMetadataSchema>>().type.toBeAssignableTo<AuthorizationServerMetadata>()
  expect<AuthorizationServerMetadata>().type.toBeAssignableTo<Static<typeof AuthorizationServerMetadataSchema>>()
  expect<Static<typeof OAuthErrorBodySchema>>().type.toBeAssignableTo<OAuthErrorBody>()
  expect<OAuthErrorBody>().type.toBeAssignableTo<Static<typeof OAuthErrorBodySchema>>()
})

test('the root entry no longer exports the schemas', () => {
  expect<typeof Root>().type.not.toHaveProperty('ProtectedResourceMetadataSchema')
  expect<typeof Schemas>().type.toHaveProperty('ProtectedResourceMetadataSchema')
})
