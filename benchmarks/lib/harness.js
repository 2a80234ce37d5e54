// Forks a server, drives it with autocannon from this (the parent) process and
// collects the server's CPU and memory figures around the measured window.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const SERVERS = fileURLToPath(new URL('../servers/', import.meta.url))

function request (child, type, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`server did not answer "${type}" in ${timeoutMs} ms`)) }, timeoutMs)
    const onMessage = (message) => { if (message?.type === type + '-ok') { cleanup(); resolve(message) } }
    const onExit = (code) => { cleanup(); reject(new Error(`server exited (${code}) while waiting for "${type}"`)) }
    function cleanup () { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.on('exit', onExit)
    child.send({ type })
  })
}

/**
 * Forks servers/<module> with its config and waits for its port.
 * `execArgv` adds node flags (e.g. --cpu-prof). Retries a failed start twice:
 * other sessions may rebuild dist/ while a long run is going.
 */
export async function startServer (module, config, { execArgv = [], env = {} } = {}) {
  let lastError
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 3000))
    const stderr = []
    const child = fork(SERVERS + module, [], {
      env: { ...process.env, ...env, BENCH_CONFIG: JSON.stringify(config) },
      execArgv,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    child.stderr.on('data', (chunk) => { stderr.push(chunk) })
    try {
      const port = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('server did not start in 20 s')), 20_000)
        child.on('message', (message) => { if (message?.type === 'ready') { clearTimeout(timer); resolve(message.port) } })
        child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}`)) })
      })
      return {
        port,
        child,
        mark: () => request(child, 'mark'),
        stats: () => request(child, 'stats'),
        async stop () {
          if (child.exitCode !== null || child.signalCode !== null) return
          const exited = once(child, 'exit')
          child.send({ type: 'stop' })
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
          await exited
          clearTimeout(timer)
        },
      }
    } catch (err) {
      child.kill('SIGKILL')
      lastError = new Error(`${module}: ${err.message}\n${Buffer.concat(stderr).toString().slice(-2000)}`)
    }
  }
  throw lastError
}

/**
 * One autocannon run. `next` (optional) returns the headers of the next request;
 * otherwise `headers` are sent with every request.
 */
export function load ({ port, tls, clientTls, path, method = 'GET', headers = {}, next, duration, amount, connections, pipelining = 1, maxOverallRequests, timeout = 10 }) {
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}${path}`
  const options = {
    url,
    connections,
    pipelining,
    // Stop is checked on every sample tick: 250 ms lets short runs end on time.
    sampleInt: 250,
    timeout,
    method,
    headers,
  }
  if (next !== undefined) {
    options.requests = [{ method, path, setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...next() } }) }]
  }
  // A fixed number of requests (the smoke test), else a duration.
  if (amount !== undefined) options.amount = amount
  else options.duration = duration
  if (maxOverallRequests !== undefined) options.maxOverallRequests = maxOverallRequests
  if (clientTls !== undefined) options.tlsOptions = clientTls
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => (err ? reject(err) : resolve(result)))
  })
}

/** One request with Node's fetch/https, used as the sanity probe before any load. */
export async function probe ({ port, tls, clientTls, path, method = 'GET', headers = {} }) {
  if (!tls) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers })
    return { status: response.status, body: await response.text(), wwwAuthenticate: response.headers.get('www-authenticate') }
  }
  const https = await import('node:https')
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, method, headers, ...clientTls, rejectUnauthorized: false }, (res) => {
      const chunks = []
      res.on('data', (chunk) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), wwwAuthenticate: res.headers['www-authenticate'] }))
    })
    req.on('error', reject)
    req.end()
  })
}
