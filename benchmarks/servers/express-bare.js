// Baseline for the Express peer: Express and one trivial route (HTTP or HTTPS).
import { createServer } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import express from 'express'
import { config, serveNode, tlsOptions } from './child.js'

const app = express()
app.get('/mcp', (req, res) => { res.json({ ok: true }) })
await serveNode(config.tls === undefined ? createServer(app) : createTlsServer(tlsOptions(), app))
