// The server side of the harness: every server runs in its own forked process,
// listens on 127.0.0.1:0 and reports its port over IPC. The parent then asks
// for CPU and memory figures around each measured run, and stops it (a normal
// exit, so `--cpu-prof` can write its profile).
import { performance } from 'node:perf_hooks'

/** The scenario config the parent passed (keys, resource, TLS material...). */
export const config = JSON.parse(process.env.BENCH_CONFIG ?? '{}')

/** TLS options shared by every TLS server: the client must present a certificate from the test CA. */
export function tlsOptions () {
  const { tls } = config
  return { key: tls.key, cert: tls.cert, ca: [tls.ca], requestCert: true, rejectUnauthorized: true }
}

/**
 * @param {() => Promise<{ port: number, close: () => Promise<void> }>} start
 */
export async function serve (start) {
  const { port, close } = await start()
  let cpuMark = process.cpuUsage()
  let wallMark = performance.now()

  process.on('disconnect', () => process.exit(0))
  process.on('message', (message) => {
    if (message.type === 'mark') {
      cpuMark = process.cpuUsage()
      wallMark = performance.now()
      process.send({ type: 'mark-ok' })
    } else if (message.type === 'stats') {
      const cpu = process.cpuUsage(cpuMark)
      const memory = process.memoryUsage()
      process.send({
        type: 'stats-ok',
        cpuMs: (cpu.user + cpu.system) / 1000,
        wallMs: performance.now() - wallMark,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
      })
    } else if (message.type === 'stop') {
      close().finally(() => process.exit(0))
    }
  })
  process.send({ type: 'ready', port })
}

/** Starts a Fastify app on 127.0.0.1:0. */
export function serveFastify (app) {
  return serve(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 })
    return { port: app.server.address().port, close: () => app.close() }
  })
}

/** Starts a node:http(s) server (Express) on 127.0.0.1:0. */
export function serveNode (server) {
  return serve(async () => {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {
      port: server.address().port,
      close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
    }
  })
}
