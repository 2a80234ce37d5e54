// Bare oidc-provider on node:http with the configuration mcpAuthorizationServer builds
// (the same MCP defaults and storage), without Fastify, the plugin's mount, hooks or
// store guard: what the plugin's own work is measured against.
import { createServer } from 'node:http'
import Provider from 'oidc-provider'
import { resolveAsOptions } from '../../dist/lib/authorization-server/options.js'
import { buildConfiguration } from '../../dist/lib/authorization-server/provider-configuration.js'
import { developmentInteractions } from '../../dist/authorization-server.js'
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js'
import { config, serveNode } from './child.js'
import { asBenchOptions } from './as-config.js'

const options = resolveAsOptions({ ...asBenchOptions(config), interactions: developmentInteractions() })
const configuration = buildConfiguration(options, { adapter: createMemoryAdapter(), findAccount: async (subject) => options.accounts.find(subject) })
const provider = new Provider(options.issuer, configuration)
await serveNode(createServer(provider.callback()))
