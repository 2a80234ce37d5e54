// A real redis-server on a free loopback port, started and killed by the test that needs
// it, and clients of both supported kinds (ioredis, node-redis) connected to it.
// Without redis-server the Redis suites skip, saying why; under CI=true they fail instead.
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import t from 'tap'
import { freePort } from './net.js'

type Test = Parameters<Parameters<typeof t.test>[0]>[0]

// REDIS_SERVER points at another binary (e.g. a redis-server not on PATH).
const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'
const hasRedis = spawnSync(REDIS_SERVER, ['--version']).error === undefined

/** `{ skip: REDIS_SKIP }` on every test that needs a server: false when one is available. */
export const REDIS_SKIP: false | string = hasRedis
  ? false
  : 'redis-server not found: install it (apt-get install -y redis-server); .ci/run installs it'

if (REDIS_SKIP !== false) {
  if (process.env.CI === 'true') {
    t.fail(`CI=true and ${REDIS_SKIP}`)
  } else {
    t.comment(`SKIPPING the Redis tests: ${REDIS_SKIP}`)
  }
}

export class RedisServer {
  readonly port: number
  #process: ChildProcess | undefined

  constructor (port: number) {
    this.port = port
  }

  /** Starts redis-server (no persistence) and resolves once it accepts connections. */
  async start (): Promise<void> {
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#process = child
    // A test process that ends without its teardown (an uncaught error) takes its server along.
    const killOnExit = (): void => { child.kill('SIGKILL') }
    process.once('exit', killOnExit)
    child.once('exit', () => process.off('exit', killOnExit))
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000)
      function fail (err: Error): void {
        clearTimeout(timer)
        child.kill('SIGKILL')
        reject(err)
      }
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
      child.once('exit', (code) => fail(new Error(`redis-server exited (${String(code)}):\n${output}`)))
      child.once('error', fail)
    })
  }

  /** Stops the server process (SIGSTOP): its connections stay open and nothing answers, a hung server. */
  pause (): void {
    this.#process?.kill('SIGSTOP')
  }

  /** Lets a paused server run again (SIGCONT); it answers what was sent meanwhile. */
  resume (): void {
    this.#process?.kill('SIGCONT')
  }

  /** Kills the server process (a crash, not a graceful shutdown) and waits for it to exit. */
  async kill (): Promise<void> {
    const child = this.#process
    this.#process = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
}

/** A redis-server for this test, killed at its end. */
export async function startRedis (t: Test, port?: number): Promise<RedisServer> {
  const server = new RedisServer(port ?? await freePort())
  await server.start()
  t.teardown(() => server.kill())
  return server
}

/**
 * An ioredis client that fails fast while Redis is down instead of queueing: no
 * offline queue, no per-request retries, and a quick constant reconnect so
 * service resumes as soon as Redis is back. Not yet connected.
 */
export function ioredisClient (t: Test, server: RedisServer): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port: server.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
    lazyConnect: true,
  })
  // Connection errors while Redis is down are expected; the stores report them per request.
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

/** A connected ioredis client (see ioredisClient). */
export async function connectIoredis (t: Test, server: RedisServer): Promise<Redis> {
  const client = ioredisClient(t, server)
  await client.connect()
  return client
}

export type NodeRedisClient = ReturnType<typeof createClient>

/** A connected node-redis (v5) client, closed at the end of the test. */
export async function connectNodeRedis (t: Test, server: RedisServer): Promise<NodeRedisClient> {
  const client = createClient({
    socket: { host: '127.0.0.1', port: server.port, reconnectStrategy: () => 50 },
    disableOfflineQueue: true,
  })
  client.on('error', () => {})
  await client.connect()
  t.teardown(() => { client.destroy() })
  return client
}
