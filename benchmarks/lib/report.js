// The console table, RESULTS.md and the hand-built SVG chart of the ratios.
import { ceilingRps, median } from './stats.js'

const n0 = (x) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'))
const n1 = (x) => (x === undefined ? '—' : x.toFixed(1))
const n2 = (x) => (x === undefined ? '—' : x.toFixed(2))
const mb = (bytes) => (bytes ? (bytes / 2 ** 20).toFixed(0) : '—')
const verdict = (pass) => (pass === undefined ? '—' : pass ? 'PASS' : 'FAIL')
const spread = (interleaved) => (interleaved === undefined ? '—' : `${n2(interleaved.q1)}–${n2(interleaved.q3)}`)
const measuredCell = (c) => c.pairedFailure !== undefined
  ? `interleaved run FAILED (${c.pairedFailure.split('\n')[0]}); sequential ${n2(c.sequential)}`
  : c.interleaved === undefined ? `${n2(c.value)} (sequential)` : `**${n2(c.value)}** (${spread(c.interleaved)})`

function pad (rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)))
  return rows.map((row) => row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ')).join('\n')
}

export function consoleReport ({ rows, comparisons, rounds, settings }) {
  const table = [['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non2xx', 'errors', 'timeouts', 'RSS MB', 'srv CPU%', 'CPU µs/req', 'other load']]
  for (const r of rows) {
    table.push([r.id, n0(r.rps), n1(r.p50), n1(r.p99), r.non2xx, r.errors, r.timeouts, mb(r.rss), n0(r.serverCpuPct), n0(r.serverCpuUsPerRequest), n2(r.otherLoadCores)])
  }
  const ceilings = rounds.map((round) => n0(round.ceiling.nodeCrypto.perSecond)).join(' / ')
  const lines = [
    '',
    `Scenarios (${settings.mode}, median of ${rounds.length} round(s), ${settings.duration} s, ${settings.connections} connections${(settings.pipelining ?? 1) > 1 ? `, pipelining ${settings.pipelining}` : ''})`,
    pad(table),
    '',
    `ES256 verifications/s, one core (node:crypto), per round: ${ceilings}`,
    '',
  ]
  const ratioTable = [['ratio (req/s)', 'judged', 'interleaved q1–q3', 'sequential', 'per round', 'target', '', 'CPU-based']]
  for (const c of comparisons) {
    ratioTable.push([c.label, n2(c.value), spread(c.interleaved), n2(c.sequential), c.perRound.map(n2).join(' '), c.target === undefined ? '—' : '≥ ' + c.target, verdict(c.pass), n2(c.interleaved?.cpu ?? c.cpu)])
  }
  lines.push(pad(ratioTable))
  const failures = rows.filter((r) => r.failures.length > 0)
  const pairedFailures = comparisons.filter((c) => c.pairedFailure !== undefined)
  if (failures.length > 0 || pairedFailures.length > 0) {
    lines.push('', 'Failures:')
    for (const f of failures) for (const message of f.failures) lines.push(`  ${f.id}: ${message}`)
    for (const c of pairedFailures) lines.push(`  ${c.id} (interleaved): ${c.pairedFailure}`)
  }
  return lines.join('\n')
}

function mdTable (header, body) {
  return [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

export function resultsMarkdown ({ rows, comparisons, rounds, paired, settings, machine, replayStore, startedAt, minutes }) {
  const pairedComparisons = comparisons.filter((c) => c.interleaved !== undefined)
  const byId = Object.fromEntries(rows.map((r) => [r.id, r]))
  const ceil = (key, field) => median(rounds.map((round) => round.ceiling[key][field]))
  const verifyRate = ceil('nodeCrypto', 'perSecond')
  const verifyUs = 1e6 / verifyRate
  // The same request as the plugin's scenarios, without the plugin.
  const bare = byId['fastify-bare-token'] ?? byId['fastify-bare']
  const inSitu = (floorId) => {
    const floor = byId[floorId]
    return floor?.serverCpuUsPerRequest === undefined || bare?.serverCpuUsPerRequest === undefined ? undefined : floor.serverCpuUsPerRequest - bare.serverCpuUsPerRequest
  }
  const replayPass = replayStore.bytesPerEntry <= 150

  const targets = [
    ...comparisons.filter((c) => c.target !== undefined).map((c) => [c.label, `≥ ${c.target}`, measuredCell(c), n2(c.sequential), verdict(c.pass)]),
    ['MemoryReplayStore bytes per live entry at 1M entries', '≤ 150 B', `${n1(replayStore.bytesPerEntry)} B`, '', verdict(replayPass)],
  ]
  const allPass = targets.every((t) => t[4] === 'PASS')

  const scenarioRows = rows.map((r) => [
    `\`${r.id}\`<br>${r.label}`, n0(r.rps), n1(r.p50), n1(r.p99), `${r.non2xx} / ${r.errors} / ${r.timeouts}`,
    mb(r.rss), n0(r.serverCpuPct), n0(r.serverCpuUsPerRequest), n2(r.otherLoadCores),
  ])

  const ratioRows = comparisons.map((c) => [
    c.label, c.pairedFailure !== undefined ? 'FAILED' : c.interleaved === undefined ? '—' : `${n2(c.interleaved.value)} (${spread(c.interleaved)})`, n2(c.sequential), c.perRound.map(n2).join(', '),
    c.kind === 'ceiling' ? `${n0(c.ceiling)} req/s (jose-based: ${n2(c.jose)})` : '',
    c.target === undefined ? '—' : `≥ ${c.target}`, verdict(c.pass), c.interleaved === undefined ? n2(c.cpu) : `${n2(c.interleaved.cpu)} (sequential ${n2(c.cpu)})`,
  ])
  const pairRows = pairedComparisons.map((c) => [c.label, String(c.interleaved.pairs), c.interleaved.cpuGapUs === undefined ? '—' : `${c.interleaved.cpuGapUs.toFixed(1)} µs`, (paired?.[c.id]?.pairs ?? []).map((p) => n2(p.ratio)).join(', ')])

  const cpuRow = (id, verifications) => {
    const r = byId[id]
    if (r?.serverCpuUsPerRequest === undefined || bare?.serverCpuUsPerRequest === undefined) return undefined
    const overhead = r.serverCpuUsPerRequest - bare.serverCpuUsPerRequest
    return [`\`${id}\``, n0(r.serverCpuUsPerRequest), n0(overhead), verifications === 0 ? '0' : `${verifications} × ${n0(verifyUs)} = ${n0(verifications * verifyUs)}`, n0(overhead - verifications * verifyUs)]
  }
  const cpuRows = [
    cpuRow('floor-fresh', 1), cpuRow('floor-dpop', 1),
    cpuRow('mcp-bearer', 0), cpuRow('mcp-bearer-fresh', 1), cpuRow('mcp-dpop', 1), cpuRow('mcp-dpop-nonce', 1),
    cpuRow('fastify-jwt', 0), cpuRow('fastify-jwt-fresh', 1),
  ].filter(Boolean)

  const roundRows = []
  for (const round of rounds) {
    for (const [id, r] of Object.entries(round.results)) {
      roundRows.push([round.round, `\`${id}\``, n0(r.rps), n1(r.p50), n1(r.p99), r.failure === undefined ? `${r.non2xx}/${r.errors}/${r.timeouts}` : 'FAILED', mb(r.rss), n0(r.serverCpuPct), n0(r.loadGeneratorCpuPct), n2(r.otherLoadCores), r.pool === undefined ? '' : n0(r.pool)])
    }
  }

  const ceilingRows = rounds.map((round) => {
    const c = round.ceiling
    const bareRps = (round.results['fastify-bare-token'] ?? round.results['fastify-bare'])?.rps
    return [round.round, n0(c.nodeCrypto.perSecond), n0(c.joseSerial.perSecond), `${n0(c.joseParallel.perSecond)} (${n0(c.joseParallel.perCpuSecond)} per CPU-s)`, n0(bareRps), bareRps === undefined ? '—' : n0(ceilingRps(bareRps, c.nodeCrypto.perSecond))]
  })

  const p = machine.packages
  return `# Benchmark results

Generated by \`npm run bench\` (\`node benchmarks/run.js\`) on ${startedAt.toISOString()}, ${n1(minutes)} min.
Do not edit: the next full run rewrites this file and [\`ratios.svg\`](ratios.svg).
${settings.rounds} sequential rounds; in every round each scenario runs ${settings.duration} s after a ${settings.warmup} s warm-up,
${settings.connections} connections, ${(settings.pipelining ?? 1) > 1 ? `pipelining ${settings.pipelining}` : 'no pipelining'}, \`GET /mcp\` answering \`{"ok":true}\`. Every server runs in its own
forked process on 127.0.0.1; autocannon drives it from the parent process. Scenario figures are medians over the rounds.${pairedComparisons.length === 0
? ''
: `
Then every judged comparison is measured again **interleaved**: its two servers up at once, pairs of ${settings.pairDuration} s
windows alternating between them (base first, then subject first, …; ${settings.pairs} pairs over ${settings.pairProcesses ?? 1} fresh pairs of server
processes for the targets against bare Fastify and the ceilings, ${settings.peerPairs ?? settings.pairs} over ${settings.peerPairProcesses ?? 1} against each peer), one ratio per
pair; the judged figure is the median of those ratios (q1–q3 beside it). Drift of the shared machine then hits both
sides of a ratio alike, where sequential runs seconds apart can differ by ±20 % on this box, and fresh processes
average out the few per cent by which one server process of the same code can run slower than another for its whole
life; the sequential median is shown beside it.`}

## Machine

| | |
|---|---|
| CPU | ${machine.cpu}, ${machine.cores} cores |
| RAM | ${n1(machine.ramGiB)} GiB |
| OS | ${machine.os} |
| Node.js | ${machine.node} (OpenSSL ${machine.openssl}) |
${Object.entries(p).map(([name, version]) => `| ${name} | ${version} |`).join('\n')}

## Targets — ${allPass ? 'all met' : 'NOT all met'}

${mdTable(['target', 'required', 'measured: interleaved median (q1–q3)', 'sequential median', ''], targets)}

![ratios against the targets](ratios.svg)

## Scenarios

${mdTable(['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx / errors / timeouts', 'RSS MB', 'server CPU %', 'server CPU µs/req', 'other load (cores)'], scenarioRows)}

- A scenario with any non-2xx answer, socket error or timeout fails the run (otherwise it would measure the 401 path).
- **RSS** is the server's resident set after its measured run (the largest over the rounds).
- **server CPU %** is the server process's user+system time over the run's wall time; above 100 % means
  other threads of the process (libuv pool threads running WebCrypto, V8's GC and compiler threads) worked beside the main thread. **server CPU µs/req** divides it by the requests served.
- **other load** is CPU used on the machine by processes other than the server and the load generator during the
  run, in cores (the box is shared; full runs first wait up to 30 s for it to drop below 0.25 cores).

## Ratios

${mdTable(['ratio', 'interleaved median (q1–q3)', 'sequential median', 'sequential per round', 'ceiling (median)', 'target', '', 'CPU-based (not judged)'], ratioRows)}
${pairRows.length === 0
? ''
: `
### Interleaved pairs

${mdTable(['comparison', 'pairs', 'server CPU per request beyond the base (median)', 'ratio of each pair (subject req/s ÷ base req/s, adjacent windows)'], pairRows)}
`}

Definitions, all from the same round:

- **÷ bare**: req/s of the scenario ÷ req/s of the bare server (Fastify, or Fastify over TLS with the same client-certificate
  handshake). The judged Bearer ratio uses \`fastify-bare-token\`, bare Fastify receiving the very same request (the
  Authorization header is sent and ignored), so the ratio prices the authentication and nothing else; the ratio against
  \`fastify-bare\` (no header at all) is shown beside it.
- **÷ ceiling (measured)**: req/s ÷ req/s of \`floor-fresh\` / \`floor-dpop\`: bare Fastify whose only extra work is one
  ES256 \`crypto.verify\` of the presented token or proof with a key imported at start-up (no parsing, no claim checks, no
  cache, no replay store), driven with the same requests, in the same round. It is the issue's \`1 / (bare cost + one
  verification)\` measured directly, under the same load, instead of summed from two measurements taken under different
  conditions. Fresh-token Bearer and DPoP each need exactly one verification per request (DPoP: the proof; the
  DPoP-bound access token is a cache hit).
- **÷ ceiling (computed)**: req/s ÷ \`1 / (1 / bare Fastify req/s + 1 / ES256 verifications per second)\`, with the
  verification rate of node:crypto (\`crypto.verify\`, SHA-256 + ECDSA P-256, OpenSSL) in a tight loop in a separate process on
  an otherwise idle machine, at the start of each round. Shown, not judged: it is optimistic, because a verification costs
  more inside a server under load than in that loop (see *Why two ceilings*). "jose-based" uses jose's \`compactVerify\`
  (WebCrypto) per CPU-second instead.
- **÷ peer**: req/s ÷ the peer's req/s on the same scenario (≥ 1 means not below the peer).
- **CPU-based** (shown, not judged): the same ratio computed from the servers' CPU time per request instead of req/s —
  bare µs ÷ scenario µs, or (bare µs + one node:crypto verification µs) ÷ scenario µs for the ceiling. The server and the
  load generator share 2 cores, and WebCrypto verifications run on libuv pool threads that can borrow the second core
  (server CPU above 100 %): req/s ratios reward that, CPU-based ratios do not. The CPU-based ratio is what a deployment
  with every core already busy (one process per core) would see.

## What a microsecond costs here

The \`busy-*\` calibration servers are bare Fastify plus a hook that does nothing but spin for a fixed time, driven
with the same request: ${comparisons.filter((c) => c.id.startsWith('busy-')).map((c) => `${c.id.slice(5, c.id.indexOf('/'))} → **${n2(c.value)}**`).join(', ')}
of bare Fastify's req/s in this run. On this 2-core machine, where the load generator takes the other core, a ratio
of 0.85 leaves room for only a few microseconds of any work per request; compare the Bearer ratio with these.

## Why two ceilings

One ES256 verification costs **${n0(verifyUs)} µs** in a tight loop on an idle core (median of the rounds), but
**${n0(inSitu('floor-fresh'))} µs** (tokens) and **${n0(inSitu('floor-dpop'))} µs** (proofs) of server CPU inside \`floor-*\`, the bare
server that does one verification per request and nothing else (its CPU µs per request minus \`fastify-bare-token\`'s).
The difference is physical, not ours: between two verifications the server handles a request, which evicts OpenSSL's
P-256 tables and code from the caches, and the load generator keeps the second core busy. The measured ceiling contains
exactly that; the computed one does not.

## Crypto ceiling

${mdTable(['round', 'node:crypto verify/s', 'jose serial verify/s', 'jose, 32 in flight, verify/s', 'bare Fastify req/s (same request)', 'computed ceiling req/s'], ceilingRows)}

## Server CPU per request

Where the time goes, from the servers' own CPU accounting (less sensitive to the load generator than req/s):

${mdTable(['scenario', 'CPU µs/req', '− bare Fastify (same request)', 'verifications (tight-loop µs)', 'left besides the verification'], cpuRows)}

The \`floor-*\` rows show what "left" is for a server that does nothing but the verification: the in-server cost of the
verification above its tight-loop cost. The plugin's own work is its row's "left" minus that.

## MemoryReplayStore

\`node --expose-gc --import tsx benchmarks/replay-store-memory.js\`: ${n0(replayStore.entries)} live entries (${replayStore.keyLength === undefined ? '' : `${replayStore.keyLength}-character `}keys, as the plugin
stores them), heap growth ${n1(replayStore.heapBytes / 2 ** 20)} MiB → **${n1(replayStore.bytesPerEntry)} bytes per entry**
(target ≤ 150: ${verdict(replayPass)}). ${replayStore.note ?? ''}

## Scenario notes

- **Fresh-token Bearer** hands out distinct tokens (distinct \`jti\`) round-robin from a pre-minted pool of ${n0(settings.freshTokenPool)}, more than
  the plugin's token cache (10,000) or fast-jwt's (1,000) holds: a token comes back only after it was evicted, so every request
  misses the cache and still pays the cache lookup, insert and eviction a real miss pays. \`tokenCache: false\` with a repeated token would skip that work and flatter the result.
- **DPoP** uses one DPoP-bound access token (verified once, then cached) and a unique proof per request from a pool
  pre-signed in the parent (node:crypto, same claims as \`createDpopProof\`), larger than the request count: the server
  verifies one proof signature per request and records its \`jti\` in the default \`MemoryReplayStore\`. Requests are capped
  at the pool size, so a proof is never replayed.
- **DPoP + nonce**: \`dpop: { nonce: { secret } }\`; every proof carries the current HMAC nonce (one HMAC check per request).
- **mTLS**: both the bare and the plugin server require a client certificate from the test CA (\`requestCert\`,
  \`rejectUnauthorized\`); autocannon presents it (\`tlsOptions\`). Connections are kept alive, so handshakes are amortised.
- **@fastify/jwt** (fast-jwt) verifies with node:crypto, \`cache: true\` (1,000 entries), the same \`iss\`, \`aud\` and \`typ\` checks.
- **express-oauth2-jwt-bearer** has no verified-token cache: it verifies the access token's signature on every request,
  so its DPoP requests cost two verifications (token + proof); it keeps no \`jti\` replay store and has no nonces. It runs
  on Express, so its bare-Express rate is shown too (\`express-bare\`).
- Each sanity request (one per server, before any load) is built with \`fastify-mcp-auth/testing\` (\`createDpopProof\`)
  and must answer 2xx.

## Reproduce

\`\`\`sh
npm run bench          # npm run build && node benchmarks/run.js: this file, ratios.svg and results.json (~20 min)
npm run bench:quick    # every scenario ~2.5 s, one round, < 1 min: fails only if a scenario answered anything but 2xx
node --expose-gc --import tsx benchmarks/replay-store-memory.js  # the replay-store figure alone
node benchmarks/profile.js --scenario mcp-bearer,mcp-dpop   # --cpu-prof on the servers + a self-time summary
node benchmarks/run.js --report-only                        # re-render this file from results.json
\`\`\`

Options of \`run.js\`: \`--rounds N --duration S --warmup S --connections C --pipelining P --pairs N --peer-pairs N --only id,id\`.

## Every run

${mdTable(['round', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'non2xx/err/timeouts', 'RSS MB', 'server CPU %', 'autocannon CPU %', 'other load', 'pool'], roundRows)}
`
}

/** A horizontal bar per ratio, a dashed mark at its target; no dependency, plain SVG. */
export function ratiosSvg ({ comparisons, replayStore }) {
  const items = comparisons.filter((c) => c.value !== undefined).map((c) => ({ label: c.label, value: c.value, target: c.target, pass: c.pass }))
  items.push({ label: 'MemoryReplayStore: 150 B ÷ bytes per entry', value: 150 / replayStore.bytesPerEntry, target: 1, pass: replayStore.bytesPerEntry <= 150 })
  const labelWidth = 380
  const barWidth = 440
  const rowHeight = 26
  const top = 40
  const width = labelWidth + barWidth + 70
  const height = top + items.length * rowHeight + 40
  const max = Math.max(1.2, ...items.map((i) => Math.min(i.value, 3)))
  const x = (v) => labelWidth + (Math.min(v, max) / max) * barWidth
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const color = (pass) => (pass === undefined ? '#78909c' : pass ? '#2e7d32' : '#c62828')
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    '<text x="10" y="22" font-size="14" font-weight="600">fastify-mcp-auth benchmark ratios (judged: interleaved median where measured; dashed line = target; green met, red missed, grey no target)</text>',
  ]
  for (const tick of [0, 0.5, 1, 1.5, 2, 2.5, 3].filter((t) => t <= max)) {
    parts.push(`<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${height - 30}" stroke="#e0e0e0"/>`)
    parts.push(`<text x="${x(tick)}" y="${height - 16}" text-anchor="middle" fill="#616161">${tick}</text>`)
  }
  items.forEach((item, i) => {
    const y = top + i * rowHeight
    parts.push(`<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${esc(item.label)}</text>`)
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(1, x(item.value) - labelWidth)}" height="${rowHeight - 8}" fill="${color(item.pass)}"/>`)
    parts.push(`<text x="${x(item.value) + 4}" y="${y + 16}" fill="#212121">${item.value.toFixed(2)}${item.value > max ? ' →' : ''}</text>`)
    if (item.target !== undefined) {
      parts.push(`<line x1="${x(item.target)}" y1="${y + 1}" x2="${x(item.target)}" y2="${y + rowHeight - 1}" stroke="#212121" stroke-width="2" stroke-dasharray="3,2"/>`)
    }
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
