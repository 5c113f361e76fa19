/**
 * `import()` of an ES module by URL, for the runtime. In an actor process the
 * runtime runs as a script (bundle.ts `runtimeMain`), and a script has no
 * `import()` in Node 20 without an experimental flag: the module that runs
 * it lends its own.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const LENT = Symbol.for('troupe.import');

export function importUrl(url: string): Promise<unknown> {
  const lent = (globalThis as Record<symbol, ((url: string) => Promise<unknown>) | undefined>)[LENT];
  return lent !== undefined ? lent(url) : import(url);
}

/**
 * Loads a bundle that bundle.ts built: a CommonJS one (`.cjs`) by require(),
 * which leaves Node's ES module loader unstarted, an ES module by import().
 * A CommonJS bundle that throws as it loads throws here, synchronously.
 */
export function loadBundle(file: string): unknown {
  if (file.endsWith('.cjs')) return createRequire(file)(file);
  return importUrl(pathToFileURL(file).href);
}
