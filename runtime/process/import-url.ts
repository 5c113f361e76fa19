/**
 * `import()` of an ES module by URL, for the runtime. In an actor process the
 * runtime runs as a script (bundle.ts `runtimeFacade`), and a script has no
 * `import()` in Node 20 without an experimental flag: the facade, a module,
 * lends its own.
 */
const LENT = Symbol.for('troupe.import');

export function importUrl(url: string): Promise<unknown> {
  const lent = (globalThis as Record<symbol, ((url: string) => Promise<unknown>) | undefined>)[LENT];
  return lent !== undefined ? lent(url) : import(url);
}
