// Summarises V8 .cpuprofile files (node --cpu-prof): the top functions by self
// time, the inclusive time of chosen functions, and self time by package.
//
//   node benchmarks/cpuprofile-summary.js <file.cpuprofile>... [--top 25] [--json]
//
// Self time comes from the sample timeline (timeDeltas), so it is in ms, not
// in sample counts. --cpu-prof samples the main thread only: work on libuv
// pool threads (WebCrypto sign/verify, hashing done async) is not in here.
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'

export function categoryOf (url, functionName) {
  if (url === '') {
    if (functionName === '(idle)') return '(idle)'
    if (functionName === '(garbage collector)') return '(garbage collector)'
    if (functionName === '(program)') return '(program: native, not attributed)'
    return '(native / builtins)'
  }
  if (url.includes('/fastify-mcp-auth/') || url.includes('/main/dist/')) return 'fastify-mcp-auth (dist/)'
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (match !== null) {
    const pkg = match[1]
    if (['fastify', 'find-my-way', 'avvio', 'light-my-request', 'fast-json-stringify', '@fastify/error', 'fastify-plugin', 'pino', 'abstract-logging', 'fast-querystring', 'toad-cache', 'rfdc', 'process-warning', 'fast-decode-uri-component', 'secure-json-parse'].includes(pkg)) return `fastify (${pkg})`
    return pkg
  }
  if (url.startsWith('node:')) {
    if (/node:(internal\/)?(http|_http|net|stream|internal\/streams|tls|_tls)/.test(url)) return 'node: http/net/tls/streams'
    if (/crypto/.test(url)) return 'node: crypto (JS side)'
    return 'node: other internals'
  }
  return url
}

export function summarize (profile, { top = 25, focus = [] } = {}) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map()
  const { samples, timeDeltas } = profile
  // timeDeltas[i] is the time before sample i; attribute it to the sample that follows.
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt / 1000)
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)

  const keyOf = (node) => {
    const f = node.callFrame
    return `${f.functionName || '(anonymous)'} ${f.url === '' ? '' : shortUrl(f.url) + ':' + (f.lineNumber + 1)}`
  }
  const byFunction = new Map()
  const byCategory = new Map()
  for (const node of profile.nodes) {
    const ms = self.get(node.id) ?? 0
    if (ms === 0) continue
    const key = keyOf(node)
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms)
    const category = categoryOf(node.callFrame.url, node.callFrame.functionName)
    byCategory.set(category, (byCategory.get(category) ?? 0) + ms)
  }

  // Inclusive time of the focus functions (each counted once per stack, recursion-safe).
  const inclusive = new Map()
  const children = (node) => (node.children ?? []).map((id) => nodes.get(id))
  const root = profile.nodes[0]
  function walk (node, onPath) {
    let sum = self.get(node.id) ?? 0
    const name = node.callFrame.functionName
    const isFocus = focus.includes(name) && !onPath.has(name)
    if (isFocus) onPath.add(name)
    for (const child of children(node)) sum += walk(child, onPath)
    if (isFocus) {
      onPath.delete(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + sum)
    }
    return sum
  }
  walk(root, new Set())

  const idle = byCategory.get('(idle)') ?? 0
  const sort = (map) => [...map.entries()].sort((a, b) => b[1] - a[1])
  return {
    totalMs: total,
    idleMs: idle,
    busyMs: total - idle,
    topSelf: sort(byFunction).slice(0, top).map(([name, ms]) => ({ name, ms, pctBusy: (ms / (total - idle)) * 100 })),
    categories: sort(byCategory).map(([name, ms]) => ({ name, ms, pctBusy: name === '(idle)' ? undefined : (ms / (total - idle)) * 100 })),
    inclusive: focus.map((name) => ({ name, ms: inclusive.get(name) ?? 0, pctBusy: ((inclusive.get(name) ?? 0) / (total - idle)) * 100 })),
  }
}

function shortUrl (url) {
  const i = url.indexOf('node_modules/')
  if (i !== -1) return url.slice(i + 13)
  const d = url.indexOf('/dist/')
  if (d !== -1) return 'dist/' + url.slice(d + 6)
  return url.replace(/^file:\/\//, '')
}

/** The functions of the plugin's request path whose inclusive time is worth knowing. */
export const FOCUS = [
  'mcpAuthenticate', 'authenticate', 'extractCredentials', 'countCredentialLines', 'hashToken', 'verifyJwt',
  'verifySignature', 'compactVerify', 'flattenedVerify', 'checkDpop', 'verifyDpopProof', 'jwkThumbprint', 'normalizeHttpUri',
  'recordProof', 'replayKey', 'claim', 'checkNonce', 'check', 'checkCertificate', 'certificateThumbprint', 'peerCertificate',
  'getPeerCertificate', 'createAuthContext', 'createAuthInfo', 'emitAuthenticated', 'importKey', 'decodeSegment',
]

export function formatSummary (name, s) {
  const pct = (x) => (x === undefined ? '' : x.toFixed(1).padStart(5) + ' %')
  const ms = (x) => x.toFixed(0).padStart(7) + ' ms'
  const lines = [
    `== ${name}: ${s.totalMs.toFixed(0)} ms sampled, ${s.idleMs.toFixed(0)} ms idle, ${s.busyMs.toFixed(0)} ms busy (percentages are of busy time)`,
    '-- top self time',
    ...s.topSelf.map((f) => `${ms(f.ms)} ${pct(f.pctBusy)}  ${f.name}`),
    '-- self time by package',
    ...s.categories.map((c) => `${ms(c.ms)} ${pct(c.pctBusy)}  ${c.name}`),
    '-- inclusive time (self + callees) of request-path functions',
    ...s.inclusive.filter((f) => f.ms > 0).sort((a, b) => b.ms - a.ms).map((f) => `${ms(f.ms)} ${pct(f.pctBusy)}  ${f.name}`),
  ]
  return lines.join('\n')
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]))) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } } })
  for (const file of positionals) {
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')), { top: Number(values.top), focus: FOCUS })
    console.log(values.json ? JSON.stringify({ file, ...s }, null, 2) : formatSummary(basename(file), s) + '\n')
  }
}
