// Bare oidc-provider on node:http with the configuration mcpAuthorizationServer builds
// (the same MCP defaults, and oidc-provider's memory adapter on the same expiring
// storage), without Fastify, the plugin's mount, hooks or store guard: what the
// plugin's own work is measured against.
import { createServer } from 'node:http'
import Provider from 'oidc-provider'
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js'
import { resolveAsOptions } from '../../dist/lib/authorization-server/options.js'
import { buildConfiguration } from '../../dist/lib/authorization-server/provider-configuration.js'
import { ExpiringStorage } from '../../dist/lib/authorization-server/memory-storage.js'
import { developmentInteractions } from '../../dist/authorization-server.js'
import { config, serveNode } from './child.js'
import { answerMintRequests, asBenchOptions } from './as-config.js'

const options = resolveAsOptions({ ...asBenchOptions(config), interactions: developmentInteractions() })
const storage = new ExpiringStorage()
const configuration = buildConfiguration(options, { adapter: (model) => new MemoryAdapter(model, storage), findAccount: async (subject) => options.accounts.find(subject) })
const provider = new Provider(options.issuer, configuration)
answerMintRequests(provider, config.resource)
await serveNode(createServer(provider.callback()))
