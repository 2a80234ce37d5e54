// A redis-server for one benchmark server process, on a Unix socket of its own (no
// port to find, no persistence), killed when the process exits (also when the parent
// goes away).
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'

/** Why a scenario that needs redis-server cannot run here, or undefined when it can. */
export function redisMissing () {
  return spawnSync(REDIS_SERVER, ['--version']).error === undefined ? undefined : `${REDIS_SERVER} not found (apt-get install -y redis-server)`
}

/** Resolves with the socket path once redis-server accepts connections. */
export async function startRedisServer () {
  const path = join(tmpdir(), `fastify-mcp-auth-bench-${randomUUID()}.sock`)
  const child = spawn(REDIS_SERVER, ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
  process.on('exit', () => {
    child.kill('SIGKILL')
    rmSync(path, { force: true })
  })
  await new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000)
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      // "The server is now ready to accept connections at <path>"
      output += chunk
      if (output.includes('ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}):\n${output}`)) })
  })
  return path
}
