// A redis-server for one benchmark server process: started on a free loopback port
// with no persistence, killed when the process exits (also when the parent goes away).
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'

/** Why a scenario that needs redis-server cannot run here, or undefined when it can. */
export function redisMissing () {
  return spawnSync(REDIS_SERVER, ['--version']).error === undefined ? undefined : `${REDIS_SERVER} not found (apt-get install -y redis-server)`
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    }).on('error', reject)
  })
}

/** Resolves with the port once redis-server accepts connections. */
export async function startRedisServer () {
  const port = await freePort()
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
  process.on('exit', () => child.kill('SIGKILL'))
  await new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${output}`)), 10_000)
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      output += chunk
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (${code}):\n${output}`)) })
  })
  return port
}
