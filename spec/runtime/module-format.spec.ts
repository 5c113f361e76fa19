/**
 * Actor and task modules are bundled as CommonJS where they can be: a process
 * that loads only CommonJS never starts Node's ES module loader, which took
 * several ms of each actor's start. Modules CommonJS cannot hold stay ES modules.
 */
import { describe, expect, it, vi } from 'vitest';
import { Pool, spawn } from '../../index.ts';
import { moduleBundle, runtimeBundle } from '../../runtime/process/bundle.ts';
import { spareHosts, sparePid } from '../../runtime/process/child.ts';
import { esmLoaderState, mainInActor } from '../fixtures/actors.ts';
import { esmLoaderStarted, strictThis } from '../fixtures/tasks.ts';
import { idLength } from '../fixtures/tasks-esm-package.ts';
import { metaResolveType } from '../fixtures/tasks-meta.ts';
import { addBase } from '../fixtures/tasks-tla.ts';
import { whereAmI } from '../fixtures/tasks-dual.ts';
import { runtimeFsReads } from '../fixtures/tasks-internal.ts';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { reap } from '../helpers.ts';

const fixture = (name: string): string => new URL(`../fixtures/${name}`, import.meta.url).href;

describe('module bundles', () => {
  it('are CommonJS for a plain module, ES modules for one with a top-level await, an ES-only package, import.meta beyond its url or CommonJS names looked for', async () => {
    expect(await moduleBundle(fixture('tasks.ts'))).toMatch(/\.cjs$/);
    // Its top-level await is in the program's own block, under isMain(import.meta): false in a bundle, and dropped.
    expect(await moduleBundle(fixture('pool-no-join.ts'))).toMatch(/\.cjs$/);
    for (const name of ['tasks-tla.ts', 'tasks-esm-package.ts', 'tasks-meta.ts', 'tasks-dual.ts']) expect(await moduleBundle(fixture(name))).toMatch(/\.mjs$/);
  });

  it("require the runtime's kernel main module itself as troupe, which a process has loaded already: no module of its own between", async () => {
    const bundle = (await moduleBundle(fixture('tasks.ts')))!;
    const { kernel } = await runtimeBundle();
    const required = [...readFileSync(bundle, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required).toContain(kernel);
    // Before, a facade file (troupe.cjs) stood between: a require() more as each actor started, about 0.6 ms.
    expect(required.filter((path) => path!.includes('.cache') && path !== kernel)).toEqual([]);
    expect(readdirSync(dirname(dirname(kernel)))).not.toContain('troupe.cjs');
  });

  it("keeps a module that imports one of troupe's own files CommonJS, and runs it", async () => {
    // Before, runtime/fs.ts looked for `typeof require`: the module's bundle became an ES module, where
    // esbuild's stand-in for require() threw as the module loaded.
    expect(await moduleBundle(fixture('tasks-internal.ts'))).toMatch(/\.cjs$/);
    const pool = new Pool({ size: 1 });
    try {
      expect(await pool.apply(runtimeFsReads, [])).toBe('function');
    } finally {
      await pool.terminate();
    }
  });

  it('keeps a module that reads any of CommonJS\'s names an ES module, and one that only mentions them in comments CommonJS', async () => {
    const idioms = [
      'typeof __dirname',
      'typeof(require)',
      'typeof module',
      'typeof exports',
      'typeof arguments',
      'module?.exports',
      "module['exports']",
      "exports['x'] = 1",
      'require.main === undefined',
      "eval('1')",
    ];
    const files: string[] = [];
    try {
      for (const [i, idiom] of [...idioms, '/* module.exports, __dirname */ 1', '// require.main, typeof module\n1'].entries()) {
        const file = join(import.meta.dirname, '..', 'fixtures', `tmp-idiom-${process.pid}-${i}.ts`);
        writeFileSync(file, `export const probe = () => ${idiom};\n`);
        files.push(file);
      }
      const kinds = await Promise.all(files.map(async (file) => extname((await moduleBundle(pathToFileURL(file).href))!)));
      expect(kinds).toEqual([...idioms.map(() => '.mjs'), '.cjs', '.cjs']);
    } finally {
      for (const file of files) rmSync(file, { force: true });
    }
  });

  it('a pool worker running tasks of a plain module never starts the ES module loader, and runs them as strict code', async () => {
    const pool = new Pool({ size: 1 });
    try {
      expect(await pool.apply(esmLoaderStarted, [0])).toBe(false);
      expect(await pool.apply(strictThis, [0])).toBe(true);
    } finally {
      await pool.terminate();
    }
  });

  it('tasks of modules that stay ES modules run in the same worker', async () => {
    const pool = new Pool({ size: 1 });
    try {
      expect(await pool.apply(addBase, [1])).toBe(11);
      expect(await pool.apply(idLength, [7])).toBe(7);
      expect(await pool.apply(metaResolveType, [0])).toBe('function');
      // A module that looks for CommonJS's __dirname finds none, as where it was written, not the bundle's.
      expect(await pool.apply(whereAmI, [0])).toBe(fileURLToPath(new URL('../fixtures', import.meta.url)));
      expect(await pool.apply(esmLoaderStarted, [0])).toBe(true);
    } finally {
      await pool.terminate();
    }
  });

  it('isMain(import.meta) is false in an actor, while its module loads and after', async () => {
    const ref = reap(spawn(mainInActor));
    expect(await ref.call('isMain', { timeout: 15_000 })).toBe(false);
  });

  it('an actor of a plain module starts without the ES module loader, cold or in a spare host', async () => {
    // With spawn options, never the spare host: a process started for this actor.
    const cold = reap(spawn(esmLoaderState, { env: { ...process.env } }));
    expect(await cold.call('state', { timeout: 15_000 })).toBe(false);
    if (process.env.TROUPE_SPARE_HOST === 'off') return;
    // A root keeps spare hosts once it spawns again what ended: this actor, cold again.
    await cold.stop({ timeout: 10_000 });
    await reap(spawn(esmLoaderState, { env: { ...process.env } })).stop({ timeout: 10_000 });
    await vi.waitFor(() => expect(sparePid()).not.toBeNull(), { timeout: 20_000, interval: 10 });
    const taken = spareHosts.taken;
    const warm = reap(spawn(esmLoaderState));
    expect(await warm.call('state', { timeout: 15_000 })).toBe(false);
    expect(spareHosts.taken).toBe(taken + 1);
  });
});
