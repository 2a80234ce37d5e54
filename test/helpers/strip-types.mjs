// Test files run as TypeScript through Node's own type stripping (.taprc `type-strip-only`),
// which erases types in place: lines and columns stay those of the source, so coverage
// needs no source map, and no compiler loads into each test process (tap's default,
// ts-node, transpiles every module of every test process again). Node does not map the
// `.js` specifiers of TypeScript's nodenext resolution onto the `.ts` files on disk; this
// hook does, for relative specifiers only.
import module from 'node:module'

const RELATIVE_JS = /^\.{1,2}\/.*\.js$/

/** Resolves `./x.js` to `./x.ts` when only the TypeScript source exists (sync or async chain). */
export function resolve (specifier, context, nextResolve) {
  if (!RELATIVE_JS.test(specifier)) return nextResolve(specifier, context)
  const retry = (err) => {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    return nextResolve(specifier.slice(0, -3) + '.ts', context)
  }
  try {
    const resolved = nextResolve(specifier, context)
    return resolved instanceof Promise ? resolved.catch(retry) : resolved
  } catch (err) {
    return retry(err)
  }
}

// In-thread hooks where Node has them (22.15+); before that, the off-thread form, in
// which this file is loaded once more as the hooks module.
if (module.registerHooks !== undefined) module.registerHooks({ resolve })
else if (!import.meta.url.endsWith('?hooks')) module.register(`${import.meta.url}?hooks`)
