import { cpSync, mkdirSync, mkdtempSync, existsSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as bundle from '../../runtime/process/bundle.ts';
import { TROUPE_ROOT, buildModuleAgain, moduleBundle, runtimeBundle, sweepCache } from '../../runtime/process/bundle.ts';
import { LineMap, type RawMap } from '../../runtime/process/stacks.ts';
import { spawn } from '../../index.ts';
import { codeCacheState } from '../fixtures/actors.ts';
import { reap, until } from '../helpers.ts';
import { SourceMap } from 'node:module';
import { readFileSync } from 'node:fs';

describe('the bundle cache', () => {
  it('removes older builds of a module an hour after they were made, and keeps newer ones', async () => {
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-pruned-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, 'export const n = 1;\n');
    const made: string[] = [];
    try {
      const first = (await moduleBundle(pathToFileURL(file).href))!;
      const cache = dirname(dirname(first));
      // A build's directory is `<id>-<pid>-<time>-<n>`: make two more of the same bundle, one two hours old.
      const id = basename(dirname(first)).split('-')[0]!;
      const [old, recent] = [join(cache, `${id}-old-build`), join(cache, `${id}-recent-build`)];
      for (const dir of [old, recent]) {
        mkdirSync(dir);
        made.push(dir);
      }
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      utimesSync(old, twoHoursAgo, twoHoursAgo);
      // The module changes: it is built again, and the builds of it from before an hour ago go.
      writeFileSync(file, 'export const n = 22;\n');
      const second = (await moduleBundle(pathToFileURL(file).href))!;
      expect(second).not.toBe(first);
      expect(existsSync(old)).toBe(false);
      expect(existsSync(recent)).toBe(true);
      expect(existsSync(first)).toBe(true);
      expect(existsSync(second)).toBe(true);
    } finally {
      rmSync(file, { force: true });
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a module edited since, or whose build was removed, even within one turn of the event loop', async () => {
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-same-turn-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, '(globalThis as Record<string, unknown>).troupeSameTurn = 4101;\n');
    try {
      const url = pathToFileURL(file).href;
      const first = (await moduleBundle(url))!;
      // Found fresh once more, then edited and looked up again, with no I/O between: one turn.
      expect(await moduleBundle(url)).toBe(first);
      writeFileSync(file, '(globalThis as Record<string, unknown>).troupeSameTurn = 4202;\n');
      const second = (await moduleBundle(url))!;
      expect(second).not.toBe(first);
      expect(readFileSync(first, 'utf8')).toContain('4101');
      expect(readFileSync(second, 'utf8')).toContain('4202');
      expect(await moduleBundle(url)).toBe(second);
      rmSync(dirname(second), { recursive: true, force: true });
      const third = (await moduleBundle(url))!;
      expect(existsSync(third)).toBe(true);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('knows its kernel layer when troupe is installed under a node_modules directory', () => {
    const app = mkdtempSync(join(tmpdir(), 'troupe-installed-'));
    const root = join(app, 'node_modules', 'troupe');
    try {
      for (const part of ['runtime', 'actors', 'index.ts', 'package.json']) cpSync(join(TROUPE_ROOT, part), join(root, part), { recursive: true });
      symlinkSync(join(TROUPE_ROOT, 'node_modules'), join(root, 'node_modules'));
      const script = `const { runtimeBundle } = await import(${JSON.stringify(pathToFileURL(join(root, 'runtime', 'process', 'bundle.ts')).href)}); const r = await runtimeBundle(); console.log(JSON.stringify({ kernel: r.kernelSources.size, all: r.sources.size, worker: r.kernelSources.has(${JSON.stringify(join(root, 'actors', 'pool', 'worker.ts'))}) }));`;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: TROUPE_ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(run.stderr).toBe('');
      const got = JSON.parse(run.stdout) as { kernel: number; all: number; worker: boolean };
      expect(got.worker).toBe(true);
      expect(got.kernel).toBeGreaterThan(20);
      expect(got.kernel).toBeLessThan(got.all);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it("starts a pool worker from a new build when troupe's runtime changed, though a worker's process is spawned before the runtime is checked", () => {
    const app = mkdtempSync(join(tmpdir(), 'troupe-changed-'));
    const root = join(app, 'troupe');
    try {
      for (const part of ['runtime', 'actors', 'index.ts', 'package.json']) cpSync(join(TROUPE_ROOT, part), join(root, part), { recursive: true });
      symlinkSync(join(TROUPE_ROOT, 'node_modules'), join(root, 'node_modules'));
      writeFileSync(join(root, 'mark.ts'), "import { task } from './index.ts';\nexport const mark = task(() => ((globalThis as Record<string, unknown>).troupeChangedMark as string | undefined) ?? 'first');\n");
      const url = (file: string): string => JSON.stringify(pathToFileURL(join(root, file)).href);
      // A pool, then a change to the pool worker's source, then another pool, in one program: the second
      // pool's worker is spawned from the runtime the program knows, and must not run it.
      const script = `
        import { appendFileSync } from 'node:fs';
        const { Pool } = await import(${url('index.ts')});
        const { mark } = await import(${url('mark.ts')});
        const first = new Pool({ size: 1 });
        const a = await first.apply(mark, []);
        await first.terminate();
        appendFileSync(${JSON.stringify(join(root, 'actors', 'pool', 'worker.ts'))}, "\\n(globalThis as Record<string, unknown>).troupeChangedMark = 'second';\\n");
        const second = new Pool({ size: 1 });
        const b = await second.apply(mark, []);
        await second.terminate();
        console.log(JSON.stringify([a, b]));`;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual(['first', 'second']);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  }, 150_000);

  it('keeps the runtime build a process runs from marked in use, so that a prune of superseded builds leaves it', async () => {
    const { kernel } = await runtimeBundle();
    const build = dirname(dirname(kernel));
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(build, twoHoursAgo, twoHoursAgo);
    // With spawn options: a process started now, not the spare host that started earlier.
    const ref = reap(spawn(codeCacheState, { env: { ...process.env } }));
    try {
      await ref.call('state', { timeout: 15_000 });
      await until(() => Date.now() - statSync(build).mtimeMs < 10 * 60 * 1000, 15_000, 'the build marked in use');
    } finally {
      await ref.stop({ timeout: 10_000 });
    }
  });

  it('gives two builds of one bundle at once one build (the processes of a program starting together)', async () => {
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-together-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, '(globalThis as Record<string, unknown>).troupeTogether = 1;\n');
    try {
      const url = pathToFileURL(file).href;
      const [a, b] = await Promise.all([buildModuleAgain(url), buildModuleAgain(url)]);
      expect(b).toBe(a);
      expect(existsSync(a)).toBe(true);
      expect(await moduleBundle(url)).toBe(a);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('builds a bundle again when its files were removed while the program runs', async () => {
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-removed-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, 'export const n = 1;\n');
    try {
      const first = (await moduleBundle(pathToFileURL(file).href))!;
      rmSync(dirname(first), { recursive: true, force: true });
      const second = (await moduleBundle(pathToFileURL(file).href))!;
      expect(existsSync(second)).toBe(true);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe('the bundle cache sweep', () => {
  const twoHoursAgo = (): Date => new Date(Date.now() - 2 * 60 * 60 * 1000);
  const backdate = (...paths: string[]): void => {
    for (const path of paths) utimesSync(path, twoHoursAgo(), twoHoursAgo());
  };
  const tempModule = (name: string): string => {
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-${name}-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, `export const name = ${JSON.stringify(name)};\n`);
    return file;
  };

  it('removes the bundles of deleted modules and half-done builds once untouched for an hour, and keeps the rest', async () => {
    const [deleted, recent, kept] = [tempModule('deleted'), tempModule('deleted-recently'), tempModule('kept')];
    const made: string[] = [];
    try {
      const bundleOf = async (file: string): Promise<{ dir: string; manifest: string }> => {
        const dir = dirname((await moduleBundle(pathToFileURL(file).href))!);
        return { dir, manifest: join(dirname(dir), `${basename(dir).split('-')[0]}.json`) };
      };
      const [gone, young, live] = [await bundleOf(deleted), await bundleOf(recent), await bundleOf(kept)];
      const cache = dirname(gone.dir);
      // A build killed before it wrote its manifest, and a temporary file one left.
      const half = join(cache, '0123456789abcdef-1-build-0');
      const tmp = join(cache, `0123456789abcdef.json.${process.pid}.tmp`);
      mkdirSync(half);
      writeFileSync(tmp, '{');
      // Manifests of another format, one used two hours ago, one 31 days ago.
      const otherFormat = join(cache, 'fedcba9876543210.json');
      const otherFormatUnused = join(cache, 'fedcba9876543211.json');
      for (const file of [otherFormat, otherFormatUnused]) writeFileSync(file, JSON.stringify({ format: 9999, outputs: {}, inputs: [] }));
      const longAgo = new Date(Date.now() - 31 * 24 * 60 * 60 * 1000);
      utimesSync(otherFormatUnused, longAgo, longAgo);
      made.push(half, tmp, otherFormat, otherFormatUnused);
      for (const file of [deleted, recent]) rmSync(file);
      backdate(gone.dir, gone.manifest, live.dir, live.manifest, half, tmp, otherFormat);
      expect(existsSync(gone.manifest) && existsSync(young.manifest) && existsSync(live.manifest)).toBe(true);

      expect(await sweepCache(cache)).toBeGreaterThanOrEqual(1);
      // Its module deleted, untouched for two hours: gone, manifest and build.
      expect(existsSync(gone.manifest)).toBe(false);
      expect(existsSync(gone.dir)).toBe(false);
      expect(existsSync(half)).toBe(false);
      expect(existsSync(tmp)).toBe(false);
      // Deleted a moment ago: a process started from it may still read it.
      expect(existsSync(young.manifest)).toBe(true);
      expect(existsSync(young.dir)).toBe(true);
      // Its module still there and unchanged: kept, however old, and used as it is.
      expect(existsSync(live.manifest)).toBe(true);
      // Of another cache format (another troupe sharing the cache): kept until unused for 30 days.
      expect(existsSync(otherFormat)).toBe(true);
      expect(existsSync(otherFormatUnused)).toBe(false);
      expect((await bundleOf(kept)).dir).toBe(live.dir);
    } finally {
      for (const path of [deleted, recent, kept, ...made]) rmSync(path, { recursive: true, force: true });
    }
  });

  it("marks a bundle used when a program finds it on disk, so the sweep counts a bundle's age from its last use", async () => {
    const file = tempModule('used');
    try {
      const dir = dirname((await moduleBundle(pathToFileURL(file).href))!);
      const manifest = join(dirname(dir), `${basename(dir).split('-')[0]}.json`);
      backdate(manifest);
      // Another program finds it built: a process of its own, which has not built or read it yet.
      const script = `const { moduleBundle } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '..', '..', 'runtime', 'process', 'bundle.ts')).href)}); await moduleBundle(${JSON.stringify(pathToFileURL(file).href)});`;
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8', timeout: 60_000 });
      expect(run.status).toBe(0);
      expect(Date.now() - statSync(manifest).mtimeMs).toBeLessThan(10 * 60 * 1000);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('is begun by a build when the cache has not been swept for a day', async () => {
    const gone = tempModule('swept-by-build');
    const fresh = tempModule('builds-and-sweeps');
    try {
      const dir = dirname((await moduleBundle(pathToFileURL(gone).href))!);
      const cache = dirname(dir);
      const manifest = join(cache, `${basename(dir).split('-')[0]}.json`);
      rmSync(gone);
      backdate(dir, manifest);
      const mark = join(cache, '.swept');
      writeFileSync(mark, '');
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
      utimesSync(mark, twoDaysAgo, twoDaysAgo);
      const before = bundle.sweeping;
      await moduleBundle(pathToFileURL(fresh).href);
      expect(bundle.sweeping).not.toBe(before);
      await bundle.sweeping;
      expect(existsSync(manifest)).toBe(false);
      expect(existsSync(dir)).toBe(false);
      // Marked: the next build within the day does not sweep again.
      const after = bundle.sweeping;
      writeFileSync(fresh, 'export const changed = true;\n');
      await moduleBundle(pathToFileURL(fresh).href);
      expect(bundle.sweeping).toBe(after);
    } finally {
      for (const path of [gone, fresh]) rmSync(path, { force: true });
    }
  });
});

/** A layer's map, decoded at build time, answers as node's own reading of the map for every frame position tried. */
function expectDecodedAsMapped(script: string): void {
  const raw = JSON.parse(readFileSync(`${script}.map`, 'utf8')) as RawMap & { mappings: string };
  const reference = new SourceMap(raw as unknown as ConstructorParameters<typeof SourceMap>[0]);
  const decoded = LineMap.decode(raw);
  const stored = LineMap.fromBinary(readFileSync(`${script}.map.bin`));
  // Frame positions across the whole text (the layers are minified: a few long lines).
  const lines = readFileSync(script, 'latin1').split('\n');
  let compared = 0;
  for (let line = 0; line < lines.length; line++) {
    for (let column = 0; column < lines[line]!.length; column += 17) {
      const want = reference.findEntry(line, column) as { generatedLine?: number; originalSource?: string; originalLine?: number; originalColumn?: number };
      // node's findEntry may answer from an earlier line; a frame's own line is what matters.
      if (want.generatedLine !== line || !want.originalSource) continue;
      const expected = { originalSource: want.originalSource, originalLine: want.originalLine, originalColumn: want.originalColumn };
      expect(decoded.find(line, column)).toEqual(expected);
      expect(stored.find(line, column)).toEqual(expected);
      compared++;
    }
  }
  expect(compared).toBeGreaterThan(5_000);
}

describe("the runtime bundle's source map", () => {
  it('is decoded at build time into a form that maps every frame as the map itself does, in both layers', async () => {
    const { main, kernel } = await runtimeBundle();
    for (const layer of [kernel, main]) expectDecodedAsMapped(join(dirname(layer), 'runtime.cjs'));
  });

  it('maps nothing it cannot name, and refuses a decoded map of the wrong length', () => {
    // A source that is null (the spec allows it): no place, rather than a stack that throws.
    expect(LineMap.decode({ sources: [null as unknown as string], mappings: 'AAAA' }).find(0, 0)).toBeUndefined();
    expect(LineMap.decode({ sources: ['a.ts'], mappings: 'AAAA' }).find(0, 0)).toEqual({ originalSource: 'a.ts', originalLine: 0, originalColumn: 0 });
    const bytes = LineMap.decode({ sources: ['a.ts'], mappings: 'AAAA;AACA' }).toBinary();
    expect(LineMap.fromBinary(bytes).find(1, 0)).toEqual({ originalSource: 'a.ts', originalLine: 1, originalColumn: 0 });
    expect(() => LineMap.fromBinary(bytes.subarray(0, bytes.byteLength - 4))).toThrow(/wrong length/);
  });
});
