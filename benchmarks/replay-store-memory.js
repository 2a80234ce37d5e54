// MemoryReplayStore: heap bytes per live entry at 1M entries (target ≤ 150 B).
//
//   node --expose-gc --import tsx benchmarks/replay-store-memory.js [--entries 1000000] [--json]
//
// Keys are what the plugin stores, made by the plugin's own replayKey(jkt, jti)
// (from the TypeScript source through tsx: dist/ is bundled; the store comes from
// dist/, so run `npm run build` first). They are made inside the loop and
// not kept anywhere else, so the heap growth is the store's own: the Map and its
// key strings.
import { parseArgs } from 'node:util'
import { MemoryReplayStore } from 'fastify-mcp-auth'
import { replayKey } from '../lib/dpop/proof.ts'

const { values: args } = parseArgs({ options: { entries: { type: 'string', default: '1000000' }, json: { type: 'boolean', default: false } } })
const entries = Number(args.entries)
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc')
  process.exit(2)
}

function settle () {
  for (let i = 0; i < 4; i++) globalThis.gc()
  return process.memoryUsage()
}

const jkt = 'bench-jkt-0123456789abcdefghijklmnopqrstuv'
const before = settle()
const store = new MemoryReplayStore({ maxEntries: entries })
for (let i = 0; i < entries; i++) {
  const key = replayKey(jkt, String(i))
  if (store.claim(key, 300) !== true) throw new Error(`entry ${i} was refused`)
}
const after = settle()
if (store.size !== entries) throw new Error(`expected ${entries} live entries, found ${store.size}`)

const heapBytes = after.heapUsed - before.heapUsed
const result = {
  entries,
  keyLength: replayKey(jkt, '0').length,
  heapBytes,
  rssBytes: after.rss - before.rss,
  bytesPerEntry: heapBytes / entries,
  note: 'heapUsed after forced GC, minus heapUsed before the store was built.',
}
// Keep the store reachable until after the measurement.
store.close()

if (args.json) {
  process.stdout.write(JSON.stringify(result) + '\n')
} else {
  const pass = result.bytesPerEntry <= 150
  console.log(`MemoryReplayStore: ${entries.toLocaleString('en-US')} live entries, heap +${(heapBytes / 2 ** 20).toFixed(1)} MiB, ` +
    `RSS +${(result.rssBytes / 2 ** 20).toFixed(1)} MiB → ${result.bytesPerEntry.toFixed(1)} bytes per entry (target ≤ 150): ${pass ? 'PASS' : 'FAIL'}`)
  process.exitCode = pass ? 0 : 1
}
