// The package surface (DESIGN.md "Package surface"), pinned: every name each
// entry point exports, values and types. A name added or removed here is a
// public API change and gets its CHANGELOG entry.
import t from 'tap'
import ts from 'typescript'

const EXPECTED: Record<string, { values: string[], types: string[] }> = {
  'index.ts': {
    values: [
      'default', 'mcpAuth', 'mcpContext', 'requireScopes', 'McpScopes', 'scopesSatisfy', 'mcpOperationScopes',
      'MemoryReplayStore', 'RedisReplayStore', 'MemorySessionStore', 'RedisSessionStore', 'createHmacNonceProvider', 'McpAuthError', 'protectedResourceMetadata',
      'buildProtectedResourceMetadata', 'buildAuthorizationServerMetadata',
    ],
    types: [
      'AccessTokenClaims', 'AuthorizationServerMetadata', 'AuthorizationServerMetadataInput', 'CertificateInput', 'ConfirmationClaim',
      'DpopNonceOptions', 'DpopNonceProvider', 'DpopOptions', 'ErrorRenderer', 'HmacNonceOptions', 'IntrospectionOptions', 'JwksOption',
      'JwksTuning', 'McpAuthContext', 'McpAuthErrorCode', 'McpAuthErrorOptions', 'McpAuthEvent', 'McpAuthInfo', 'McpAuthOptions',
      'McpAuthRejectReason', 'McpAuthRejectionCode', 'McpAuthStatus', 'McpAuthTypes', 'McpOperationRequest', 'McpOperationScopesMap',
      'McpPrincipal', 'McpSender', 'MemoryReplayStoreOptions', 'MemorySessionStoreOptions', 'MetadataOptions', 'MtlsOptions', 'NonceVerdict', 'OAuthErrorBody',
      'OAuthErrorCode', 'OnEventFunction', 'PrincipalFunction', 'ProtectedResourceMetadata', 'ProtectedResourceMetadataInput',
      'ProtectedResourceMetadataOptions', 'RedisClient', 'RedisReplayStoreOptions', 'RedisSessionStoreOptions', 'ReplayStore', 'RequireScopesOptions',
      'RequiredScopes', 'ResourceOptions', 'ScopeMatchMode', 'ScopesSatisfyOptions', 'SessionBindingOptions', 'SessionStore', 'TokenCacheOptions', 'VerifyTokenContext', 'VerifyTokenFunction',
    ],
  },
  'testing.ts': {
    values: [
      'createTestIssuer', 'startTestIssuer', 'createDpopKey', 'createDpopProof', 'createTestCa', 'parseWwwAuthenticate', 'assertChallenge',
      'assertDpopBoundBearerRejected', 'assertDpopProofAccepted', 'assertReplayRejected', 'assertDpopProofChecksEnforced',
      'assertTokenValidationEnforced', 'assertMtlsBindingEnforced', 'completeAuthorization',
    ],
    types: [
      'BindTarget', 'Challenge', 'ChallengeExpectation', 'CompleteAuthorizationOptions', 'DpopAlgorithm', 'DpopAssertionOptions',
      'DpopBoundBearerOptions', 'DpopKey', 'DpopProofChecksOptions', 'DpopProofFlaw', 'DpopProofOptions', 'HelperOptions', 'HttpResponseLike',
      'InjectPayload', 'InjectRequest', 'Injectable', 'MintOptions', 'MtlsBindingOptions', 'ServedTestIssuer', 'StartTestIssuerOptions',
      'TestAlgorithm', 'TestCa', 'TestCaOptions', 'TestClientCertificate', 'TestIssuer', 'TestIssuerOptions', 'TestServerCertificate',
      'TokenValidationOptions',
    ],
  },
  'schemas.ts': {
    values: ['AuthorizationServerMetadataSchema', 'OAuthErrorBodySchema', 'ProtectedResourceMetadataSchema'],
    types: ['AuthorizationServerMetadata', 'OAuthErrorBody', 'ProtectedResourceMetadata'],
  },
  'authorization-server.ts': {
    values: ['mcpAuthorizationServer', 'redisAdapter', 'developmentInteractions'],
    types: [
      'AccountsOptions', 'AuthorizationServerAccount', 'AuthorizationServerEvent', 'AuthorizationServerHealth', 'AuthorizationServerResource',
      'AuthorizationServerStore', 'CimdOptions', 'ClientsOptions', 'ConsentDetails', 'DevelopmentInteractionsOptions', 'DevelopmentUser',
      'IdJagClaims', 'IdJagOptions', 'IdJagTrustedIssuer',
      'InteractionClient', 'InteractionHandler', 'InteractionsOptions', 'LoginDetails', 'McpAuthorizationServerDecorator',
      'McpAuthorizationServerOptions', 'OidcProviderInstance', 'RateLimitOptions', 'RedisAdapterOptions', 'RegistrationOptions',
      'StaticClientMetadata',
    ],
  },
  'client.ts': {
    values: [
      'createMcpOAuthClient', 'memoryCredentialStore', 'redisCredentialStore', 'loopbackAuthorizer', 'mcpClient', 'McpClientError',
      'McpAuthorizationRequiredError', 'isMcpClientError',
    ],
    types: [
      'AssertionContext', 'AuthorizeContext', 'Authorizer', 'ClientAuthentication', 'ClientMetadata', 'ClientMetadataDocumentOptions',
      'CredentialStore', 'DpopAlgorithm', 'DpopClientOptions', 'EncryptionKey', 'EncryptionKeyOption', 'IdJagGrantOptions',
      'IdentityProvider', 'LoopbackAuthorizerOptions', 'McpClientDecorator', 'McpClientErrorCode', 'McpClientErrorReason',
      'McpClientForOptions', 'McpClientPluginOptions', 'McpOAuthClient', 'McpOAuthClientOptions', 'McpOAuthErrorCode', 'McpOAuthGrant',
      'PreRegisteredClient', 'PreRegisteredClients', 'RedisCredentialStoreOptions', 'SignOutOptions', 'SignOutResult', 'StoreLock',
      'StoredRecord', 'UnreadableRecord',
    ],
  },
}

t.test('each entry point exports exactly the pinned names', async (t) => {
  const entries = Object.keys(EXPECTED)
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  })
  const checker = program.getTypeChecker()
  for (const entry of entries) {
    const source = program.getSourceFile(entry)
    const module = source === undefined ? undefined : checker.getSymbolAtLocation(source)
    if (module === undefined) {
      t.fail(`${entry} not found`)
      continue
    }
    const values: string[] = []
    const types: string[] = []
    for (const symbol of checker.getExportsOfModule(module)) {
      const target = (symbol.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(symbol) : symbol
      if ((target.flags & ts.SymbolFlags.Value) !== 0) values.push(symbol.name)
      else types.push(symbol.name)
    }
    const expected = EXPECTED[entry] as { values: string[], types: string[] }
    t.same(values.sort(), [...expected.values].sort(), `${entry}: values`)
    t.same(types.sort(), [...expected.types].sort(), `${entry}: types`)
  }
})

t.test('the root entry exports no symbol and nothing from plugins/state.ts', async (t) => {
  const root = await import('../index.js') as Record<string, unknown>
  t.notOk('kMcpAuth' in root)
  t.notOk('scopeGrants' in root)
  t.same(Object.keys(root).sort(), [...(EXPECTED['index.ts']?.values ?? [])].sort(), 'the runtime module agrees with the types')
})
