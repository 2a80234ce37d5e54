// mcpAuthorizationServer on Fastify, the configuration the token-endpoint benchmark
// compares with bare oidc-provider (servers/as-bare.js). Rate limits off: the bare
// server has none, and the benchmark sends far more than a client IP may.
import Fastify from 'fastify'
import { developmentInteractions, mcpAuthorizationServer } from '../../dist/authorization-server.js'
import { config, serveFastify } from './child.js'
import { answerMintRequests, asBenchOptions } from './as-config.js'

const app = Fastify({ logger: false })
await app.register(mcpAuthorizationServer, { ...asBenchOptions(config), interactions: developmentInteractions() })
answerMintRequests(app.mcpAuthorizationServer.provider, config.resource)
await serveFastify(app)
