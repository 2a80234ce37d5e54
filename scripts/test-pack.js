// `npm run test:pack`: the package as a user gets it. Packs the tarball, installs it with
// fastify and typescript (and any other package a block imports, at the version this
// project tests with) into a new app, and takes every fenced js/ts block marked
// `<!-- run -->`, `<!-- run: server -->` or `<!-- typecheck -->` in README.md and
// docs/*.md: each must type-check under `strict` with `module`/`moduleResolution: nodenext`.
//
//   <!-- typecheck -->      a complete file that only type-checks (it would need real servers)
//   <!-- run -->            a program: it must exit 0
//   <!-- run: server -->    a server: it must boot; the blocks after it marked
//                           `<!-- expect: log -->` (JSON log lines: a line with the same
//                           `level` and `msg` must appear within 30 s) and `<!-- expect: curl -i -X METHOD localhost:PORT/path -->`
//                           (status line, the headers shown, body) are checked against it
//
// Ports in a server block and its expectations are swapped for a free one, so the check
// runs on a busy machine; nothing else in a block is changed.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const keep = process.argv.includes('--keep')
// `--tarball file`: a tarball packed from this build (npm test packs once for attw and this check).
const given = process.argv.includes('--tarball') ? process.argv[process.argv.indexOf('--tarball') + 1] : undefined

const blocks = pages.flatMap((page) => extract(page))
if (blocks.length === 0) fail('no block is marked <!-- run --> in README.md or docs/')

const dir = mkdtempSync(join(tmpdir(), 'fastify-mcp-auth-pack-'))
let failures = 0
try {
  const app = join(dir, 'app')
  mkdirSync(join(app, 'src'), { recursive: true })
  const tarball = given ?? join(dir, packTarball())
  const self = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const versionOf = (name) => self.devDependencies[name] ?? self.dependencies?.[name] ?? self.peerDependencies?.[name]
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, type: 'module' }, null, 2))
  // Packages the blocks import besides this one and node: builtins, at the tested versions.
  const imported = new Set(blocks.flatMap((b) => [...b.code.matchAll(/from '((?:@[^/']+\/)?[^/'.][^/']*)[^']*'/g)].map((m) => m[1])))
  const extra = [...imported].filter((name) => !name.startsWith('node:') && !['fastify-mcp-auth', 'fastify', 'typescript'].includes(name))
  for (const name of extra) if (versionOf(name) === undefined) fail(`a block imports ${name}, which is not a dependency of this project`)
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', outDir: 'out', rootDir: 'src', types: ['node'], skipLibCheck: true },
    include: ['src'],
  }, null, 2))
  step(`npm install the tarball, fastify, typescript${extra.map((name) => `, ${name}`).join('')}`)
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error',
    tarball, `fastify@${versionOf('fastify')}`, `typescript@${versionOf('typescript')}`, `@types/node@${versionOf('@types/node')}`,
    ...extra.map((name) => `${name}@${versionOf(name)}`)], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] })

  for (const block of blocks) writeFileSync(join(app, 'src', `${block.name}.ts`), block.code)
  step(`type-check ${blocks.length} block(s)`)
  try {
    execFileSync(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    fail(`the blocks do not type-check:\n${err.stdout}${err.stderr}`)
  }
  for (const block of blocks) {
    const problems = block.typecheckOnly ? [] : block.server ? await runServer(app, block) : await runProgram(app, block)
    for (const problem of problems) process.stdout.write(`  ✗ ${block.name}: ${problem}\n`)
    process.stdout.write(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${block.name} (${block.page}:${block.line})${block.typecheckOnly ? ', type-checked' : ''}\n`)
    failures += problems.length === 0 ? 0 : 1
  }
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true })
  else process.stdout.write(`kept ${dir}\n`)
}
/** Packs the package (npm runs prepack: a fresh build) into the temporary folder. */
function packTarball () {
  step('npm pack')
  return JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))[0].filename
}

process.stdout.write(`test:pack: ${blocks.length - failures} of ${blocks.length} blocks type-check and run as written\n`)
process.exitCode = failures === 0 ? 0 : 1

/** The marked blocks of a page, each with the expectations that follow it. */
function extract (page) {
  const lines = readFileSync(join(root, page), 'utf8').split('\n')
  const found = []
  let current
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- (run|run: server|typecheck|expect: (.+)) -->$/.exec(lines[i])
    if (marker === null) continue
    const fence = /^```(\w*)$/.exec(lines[i + 1] ?? '')
    if (fence === null) fail(`${page}:${i + 1}: a marker must stand right above a fenced block`)
    let end = i + 2
    while (end < lines.length && lines[end] !== '```') end++
    const body = lines.slice(i + 2, end).join('\n')
    if (!marker[1].startsWith('expect')) {
      if (!['js', 'ts'].includes(fence[1])) fail(`${page}:${i + 1}: <!-- ${marker[1]} --> marks js or ts blocks only`)
      current = { page, line: i + 1, name: `${page.replace(/\W+/g, '-')}-${i + 1}`, code: body, server: marker[1] === 'run: server', typecheckOnly: marker[1] === 'typecheck', expect: [] }
      found.push(current)
    } else {
      if (current === undefined || !current.server) fail(`${page}:${i + 1}: an expectation belongs after a <!-- run: server --> block`)
      current.expect.push({ what: marker[2], body })
    }
    i = end
  }
  return found
}

async function runProgram (app, block) {
  const { code, output } = await new Promise((resolve) => {
    const child = spawn(process.execPath, [`out/${block.name}.js`], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c) => { output += c })
    child.stderr.on('data', (c) => { output += c })
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
  return code === 0 ? [] : [`exited with ${code}:\n${output}`]
}

async function runServer (app, block) {
  const ports = new Map()
  const portOf = async (port) => { if (!ports.has(port)) ports.set(port, await freePort()); return ports.get(port) }
  for (const [, port] of block.code.matchAll(/port: (\d+)/g)) await portOf(port)
  const swap = (text) => text.replace(/(port: |localhost:|127\.0\.0\.1:)(\d+)/g, (m, prefix, port) => ports.has(port) ? prefix + ports.get(port) : m)
  const file = join(app, 'out', `${block.name}.js`)
  writeFileSync(file, swap(readFileSync(file, 'utf8')))
  const child = spawn(process.execPath, [file], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c) => { output += c })
  child.stderr.on('data', (c) => { output += c })
  const problems = []
  try {
    const booted = await until(() => /Server listening at/.test(output) || child.exitCode !== null, 60_000)
    if (!booted || child.exitCode !== null) return [`did not boot:\n${output}`]
    for (const expectation of block.expect) {
      if (expectation.what === 'log') {
        // Lines logged by background work (the warm-up fetch) may come after the listen line.
        await until(() => checkLog(swap(expectation.body), output).length === 0, 30_000)
        problems.push(...checkLog(swap(expectation.body), output))
      } else problems.push(...await checkRequest(swap(expectation.what), swap(expectation.body)))
    }
  } finally {
    child.kill('SIGTERM')
  }
  return problems
}

function checkLog (expected, output) {
  const printed = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
  return expected.split('\n').filter((l) => l.trim() !== '').flatMap((line) => {
    const want = JSON.parse(line)
    return printed.some((p) => p.level === want.level && p.msg === want.msg) ? [] : [`no log line with level ${want.level} and msg ${JSON.stringify(want.msg)}; printed:\n${output}`]
  })
}

async function checkRequest (command, expected) {
  const parts = /^curl -i -X (\w+) (\S+)$/.exec(command)
  if (parts === null) return [`cannot read the expectation "${command}"`]
  const response = await fetch(`http://${parts[2]}`, { method: parts[1] })
  const [head, ...rest] = expected.split('\n\n')
  const [statusLine, ...headerLines] = head.split('\n')
  const problems = []
  const status = `HTTP/1.1 ${response.status} ${response.statusText}`
  if (status !== statusLine) problems.push(`status: got "${status}", the page shows "${statusLine}"`)
  for (const line of headerLines) {
    const colon = line.indexOf(': ')
    const name = line.slice(0, colon)
    const value = line.slice(colon + 2)
    if (response.headers.get(name) !== value) problems.push(`${name}: got ${JSON.stringify(response.headers.get(name))}, the page shows ${JSON.stringify(value)}`)
  }
  const body = await response.text()
  if (body !== rest.join('\n\n')) problems.push(`body: got ${body}, the page shows ${rest.join('\n\n')}`)
  return problems
}

async function until (predicate, ms) {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return true
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function step (what) {
  process.stdout.write(`… ${what}\n`)
}

function fail (message) {
  process.stderr.write(`test:pack: ${message}\n`)
  process.exit(1)
}
