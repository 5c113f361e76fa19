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

const ACTORS_LAYER = Symbol.for('troupe.actors-layer');

/**
 * Loads the runtime's actors layer into this process, if it runs from the
 * kernel bundle alone (bundle.ts): a handle or an error class that the kernel
 * does not know (a queue, a lock, a pipe end; a `QueueEmptyError`) comes
 * from that layer, which registers them as it loads. True if it loaded now:
 * look again. False where there is none to load (a process that runs troupe
 * from its sources has it all), or it is loaded already.
 */
export function loadActorsLayer(): boolean {
  const holder = globalThis as Record<symbol, string | null | undefined>;
  const file = holder[ACTORS_LAYER];
  if (typeof file !== 'string') return false;
  holder[ACTORS_LAYER] = null;
  try {
    createRequire(file)(file);
  } catch {
    // Gone from the cache under a running program: the handle or error is then told as unknown.
    return false;
  }
  return true;
}

/**
 * Whether `module` (a file URL) is one of the actors layer's, in a process
 * that started from the kernel: its actors are defined once that layer has
 * loaded (and never again: see behaviour.ts markRegistry).
 */
export function isActorsLayerModule(module: string): boolean {
  const modules = (globalThis as Record<symbol, ReadonlySet<string> | undefined>)[Symbol.for('troupe.actors-modules')];
  return modules !== undefined && modules.has(module);
}
