// The module graph of the package's source (STYLE.md §2): no import cycle
// anywhere (type-only imports included), types/ imports lib/ for types only,
// lib/ never loads fastify at run time, and plugins/ is never imported by lib/.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

interface Edge { readonly to: string, readonly typeOnly: boolean }

function sources (): string[] {
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      const path = join(dir, name)
      if (statSync(join(root, path)).isDirectory()) walk(path)
      else if (path.endsWith('.ts') && !path.endsWith('.tst.ts') && !path.endsWith('.d.ts')) files.push(path)
    }
  }
  for (const dir of ['lib', 'plugins', 'types']) walk(dir)
  return [...files, 'index.ts', 'testing.ts', 'schemas.ts', 'authorization-server.ts']
}

/** Every import and re-export of a file: the module it names (relative ones resolved to a source path) and whether only types cross. */
function edgesOf (file: string): Edge[] {
  const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest)
  const edges: Edge[] = []
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined
    let typeOnly = false
    if (ts.isImportDeclaration(statement)) {
      specifier = statement.moduleSpecifier
      const clause = statement.importClause
      typeOnly = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && clause.namedBindings !== undefined &&
        ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.every((e) => e.isTypeOnly)))
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier !== undefined) {
      specifier = statement.moduleSpecifier
      typeOnly = statement.isTypeOnly
    }
    if (specifier === undefined || !ts.isStringLiteral(specifier)) continue
    const name = specifier.text
    edges.push({ to: name.startsWith('.') ? relative(root, resolve(root, dirname(file), name.replace(/\.js$/, '.ts'))) : name, typeOnly })
  }
  return edges
}

const graph = new Map(sources().map((file) => [file, edgesOf(file)]))

t.test('no import cycle, type-only imports included (Tarjan\'s strongly connected components)', async (t) => {
  let index = 0
  const order = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const visit = (file: string): void => {
    order.set(file, index)
    low.set(file, index++)
    stack.push(file)
    onStack.add(file)
    for (const { to } of graph.get(file) ?? []) {
      if (!graph.has(to)) continue
      if (!order.has(to)) {
        visit(to)
        low.set(file, Math.min(low.get(file) as number, low.get(to) as number))
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file) as number, order.get(to) as number))
      }
    }
    if (low.get(file) === order.get(file)) {
      const component: string[] = []
      let member: string
      do {
        member = stack.pop() as string
        onStack.delete(member)
        component.push(member)
      } while (member !== file)
      if (component.length > 1) cycles.push(component.sort())
    }
  }
  for (const file of graph.keys()) if (!order.has(file)) visit(file)
  t.same(cycles, [], 'no cycles')
  t.ok(graph.size > 50, `the whole source was read (${graph.size} modules)`)
})

t.test('types/ imports lib/ for types only; lib/ never imports plugins/ nor loads fastify at run time', async (t) => {
  const offences: string[] = []
  for (const [file, edges] of graph) {
    for (const edge of edges) {
      if (file.startsWith('types/') && edge.to.startsWith('lib/') && !edge.typeOnly) offences.push(`${file} → ${edge.to} (a value import)`)
      if (file.startsWith('lib/') && edge.to.startsWith('plugins/')) offences.push(`${file} → ${edge.to}`)
      if (file.startsWith('lib/') && (edge.to === 'fastify' || edge.to === 'fastify-plugin') && !edge.typeOnly) offences.push(`${file} → ${edge.to} (a value import)`)
    }
  }
  t.same(offences, [])
})
