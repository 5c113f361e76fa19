/**
 * Compiles actor modules once, in the spawning process, so an actor process
 * starts as plain JavaScript: loading a TypeScript loader in every child costs
 * about three times a bare `fork`.
 *
 * Two kinds of bundle, each cached on disk and reused until one of its source
 * files changes:
 * - the runtime bundle: troupe's public entry and the actor-process host in
 *   one file, so an actor module that imports troupe gets the very runtime
 *   instance that hosts it;
 * - an actor bundle per actor module: what an actor process runs. It imports
 *   the runtime, then the module (bundled with its local imports, troupe
 *   mapped to the runtime bundle, packages left as imports of their installed
 *   files), then tells the host the module has loaded.
 */
import { fs } from '../fs.ts';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { OnResolveResult, Plugin } from 'esbuild';
import { LineMap, type RawMap } from './stacks.ts';

// Bump when the bundles' shape changes, so old caches are not reused.
const FORMAT = 17;

/** troupe's own source root (this file is runtime/process/bundle.ts). */
export const TROUPE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TROUPE_INDEX = join(TROUPE_ROOT, 'index.ts');
const KERNEL_INDEX = join(TROUPE_ROOT, 'runtime', 'index.ts');


/** A file inside an installed package, found from the package's resolved entry. */
function packageFile(name: string, file: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!fs.existsSync(join(dir, 'package.json')) || JSON.parse(fs.readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the package directory of ${name}`);
    dir = up;
  }
  return join(dir, file);
}

interface Manifest {
  readonly format: number;
  readonly outputs: Record<string, string>;
  readonly inputs: [path: string, mtimeMs: number, size: number][];
  /** The runtime bundle (its `index`) an actor or module bundle imports. */
  readonly runtime?: string;
  /** The runtime bundle's: the source files in its kernel layer. */
  readonly kernel?: string[];
}

/**
 * The runtime as actor processes run it, in two layers, each a script run
 * from V8's code cache (runtimeMain): the kernel (kernel-entry.ts: the
 * kernel's API, the host, the pool worker), and over it the actors layer
 * (runtime-entry.ts: queues, pipes, locks, supervisors, pools, commands),
 * which imports the kernel's modules from the kernel script rather than
 * holding copies. A process loads the actors layer only if it uses it: a pool
 * worker, or an actor whose module imports only the kernel's API, loads
 * about two thirds of the code (4 ms of a worker's start here).
 */
export interface RuntimeBundle {
  /** troupe's public entry and the host, as ES module bundles import them: an ES module over `main`. */
  readonly index: string;
  /** Both layers as a CommonJS module: what an actor of the actors layer starts from. */
  readonly main: string;
  /** The kernel layer alone as a CommonJS module: what other actor processes and spare hosts start from. */
  readonly kernel: string;
  /** The source files in it: an actor module among them is loaded with the runtime, never bundled again. */
  readonly sources: ReadonlySet<string>;
  /** Those of the kernel layer: an actor among them starts from `kernel`. */
  readonly kernelSources: ReadonlySet<string>;
}

/** Builds under way in this process, by id: a second caller waits for the same one. */
const memo = new Map<string, Promise<Manifest>>();
/** Manifests this process has built or read, by id: checked again (their sources' stats) at every use. */
const known = new Map<string, Manifest>();
let builds = 0;

/** A cache key for a string: FNV-1a, twice over, as 16 hex digits (no crypto needed to name a file). */
function hashKey(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

function cacheDir(): string {
  const local = join(TROUPE_ROOT, 'node_modules');
  const dir = fs.existsSync(local) ? join(local, '.cache', 'troupe') : join(tmpdir(), `troupe-cache-${userInfo().uid}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Node imports a module under its real path: a stack frame in a bundle names it so, and stacks.ts looks bundles up by that name.
  return fs.realpathSync(dir);
}

const RUNTIME_ENTRY = join(TROUPE_ROOT, 'runtime', 'process', 'runtime-entry.ts');
const KERNEL_ENTRY = join(TROUPE_ROOT, 'runtime', 'process', 'kernel-entry.ts');
// Keyed by its entry's path: two checkouts that share one node_modules (git worktrees) share the cache, and each must get its own runtime.
const RUNTIME_KEY = `runtime:${RUNTIME_ENTRY}`;
const RUNTIME_ID = idOf(RUNTIME_KEY);

/** The runtime bundle, built on first use and reused while its sources are unchanged. */
export async function runtimeBundle(): Promise<RuntimeBundle> {
  return runtimeOf(await cached(RUNTIME_KEY, { index: RUNTIME_ENTRY }, undefined));
}

function runtimeOf(manifest: Manifest): RuntimeBundle {
  const { index, main, kernel } = manifest.outputs;
  return { index: index!, main: main!, kernel: kernel!, sources: new Set(manifest.inputs.map(([path]) => path)), kernelSources: new Set(manifest.kernel) };
}

/** Where an actor of troupe's own (a module in the runtime) starts: the kernel alone, or both layers. */
function inRuntime(manifest: Manifest, file: string): ActorBundles | null {
  const { index, main, kernel } = manifest.outputs;
  if (manifest.kernel!.includes(file)) return { bundle: kernel!, runtime: index!, inRuntime: true };
  if (manifest.inputs.some(([path]) => path === file)) return { bundle: main!, runtime: index!, inRuntime: true };
  return null;
}

function fileOf(moduleUrl: string): string {
  return moduleUrl.startsWith('file:') ? fileURLToPath(moduleUrl) : resolve(moduleUrl);
}

/**
 * The bundle that an actor process runs for an actor module (a file URL or
 * path): it imports the host, then the module, then tells the host the module
 * has loaded. One file to load, so the actor starts at the cost of a bare fork.
 * Returns it with the runtime bundle it imports. An actor of troupe's own (a
 * pool worker, a supervisor) runs the runtime bundle itself: its module is in it.
 */
export async function actorBundle(moduleUrl: string): Promise<ActorBundles> {
  const file = fileOf(moduleUrl);
  const runtime = await runtimeBundle();
  if (runtime.kernelSources.has(file)) return { bundle: runtime.kernel, runtime: runtime.index, inRuntime: true };
  if (runtime.sources.has(file)) return { bundle: runtime.main, runtime: runtime.index, inRuntime: true };
  const manifest = await cached(`actor:${file}:${runtime.index}`, { actor: file }, runtime);
  return { bundle: manifest.outputs.actor!, runtime: runtime.index, inRuntime: false };
}

export interface ActorBundles {
  /** What the actor process runs. */
  readonly bundle: string;
  /** The runtime bundle it imports. */
  readonly runtime: string;
  /** The actor is troupe's own: `bundle` is the runtime's, run with RUNTIME_ACTOR_ARG (see runtime-entry.ts). */
  readonly inRuntime: boolean;
}

/** The argument after the bundle of an actor process: the host then knows its module has loaded once the runtime has. */
export const ACTOR_ARG = 'troupe-actor';
export const RUNTIME_ACTOR_ARG = 'troupe-actor-in-runtime';

/**
 * `actorBundle`, when both bundles are built and their sources unchanged (the
 * usual case), found without waiting: the actor's process can start within
 * the call that spawns it. Null when one must be built (or checked) first.
 */
export function actorBundleIfFresh(moduleUrl: string): ActorBundles | null {
  const runtime = freshNow(RUNTIME_KEY);
  if (runtime === null) return null;
  const index = runtime.outputs.index!;
  const file = fileOf(moduleUrl);
  const own = inRuntime(runtime, file);
  if (own !== null) return own;
  const manifest = freshNow(`actor:${file}:${index}`);
  return manifest === null ? null : { bundle: manifest.outputs.actor!, runtime: index, inRuntime: false };
}

/**
 * For an actor of troupe's own (a pool worker, a supervisor, a queue's
 * server): its bundles as the runtime's manifest names them, before the
 * runtime's sources are checked, and the check (`freshNow`: 61 `stat`s,
 * about 1.5 ms here) to run once its process is spawned. Such a process runs
 * nothing but the runtime until its args come, and a node takes some 80 ms
 * to start: its spawner writes the args only if the check passes, and kills
 * it otherwise (its actor then starts from a new build). Null for an actor
 * of a module of the program's own, whose code runs as its process starts,
 * or with no manifest at hand: `actorBundleIfFresh` is for those.
 */
export function runtimeActorBundleUnchecked(moduleUrl: string): { bundles: ActorBundles; check: () => boolean } | null {
  const manifest = known.get(RUNTIME_ID) ?? readManifest(RUNTIME_ID);
  if (manifest === null) return null;
  const bundles = inRuntime(manifest, fileOf(moduleUrl));
  if (bundles === null) return null;
  return { bundles, check: () => freshNow(RUNTIME_KEY)?.outputs.index === manifest.outputs.index };
}

/**
 * A bundle of one module, to load into an actor process that is already
 * running (a pool worker taking a task from that module): the module and its
 * local imports, troupe mapped to the runtime bundle. Null for a module of
 * troupe's kernel, which every actor process holds already; the actors
 * layer for one of that layer.
 */
export async function moduleBundle(moduleUrl: string): Promise<string | null> {
  const file = fileOf(moduleUrl);
  const runtime = await runtimeBundle();
  if (runtime.kernelSources.has(file)) return null;
  if (runtime.sources.has(file)) return runtime.main;
  const manifest = await cached(`module:${file}:${runtime.index}`, { module: file }, runtime);
  return manifest.outputs.module!;
}

/** A module's bundle built afresh, whatever the cache holds: for specs of two builds of one bundle at once. */
export async function buildModuleAgain(moduleUrl: string): Promise<string> {
  const file = fileOf(moduleUrl);
  const runtime = await runtimeBundle();
  return (await build(idOf(`module:${file}:${runtime.index}`), { module: file }, runtime)).outputs.module!;
}

function idOf(key: string): string {
  return hashKey(`${FORMAT}\0${key}`);
}

/**
 * The runtime bundle, when found fresh in this turn of the event loop: its
 * sources are not checked again until the next (its files still are). A
 * pool's first task checks it twice within a few ms (its worker's spawn, its
 * task's module), 61 `stat`s each, while the worker it just spawned is
 * starting on the other core. Only the runtime's: a program that edits a
 * module of its own and spawns from it again at once gets the edit.
 */
let runtimeFreshThisTurn = false;

/** The manifest of bundle `key` if it is built (by this process, or found on disk) and its sources are unchanged; else null. */
function freshNow(key: string): Manifest | null {
  const id = idOf(key);
  const mine = known.get(id);
  if (mine !== undefined && id === RUNTIME_ID && runtimeFreshThisTurn && built(mine)) return mine;
  // Its files checked too: a cache removed while the program runs is built again, not spawned from.
  if (mine !== undefined && fresh(mine) && built(mine)) return checkedNow(id, mine);
  // Not built here, or since changed: another process may have built it (again).
  const manifest = readManifest(id);
  if (manifest === null || !fresh(manifest)) return null;
  known.set(id, manifest);
  // After the spawn this check is for: touching the file is no part of starting the process.
  queueMicrotask(() => markUsed(id));
  return checkedNow(id, manifest);
}

function checkedNow(id: string, manifest: Manifest): Manifest {
  if (id !== RUNTIME_ID || runtimeFreshThisTurn) return manifest;
  runtimeFreshThisTurn = true;
  setImmediate(() => (runtimeFreshThisTurn = false)).unref();
  return manifest;
}

function built(manifest: Manifest): boolean {
  return Object.values(manifest.outputs).every((f) => fs.existsSync(f));
}

/** The manifest on disk for bundle `id`, if it is of this format and its outputs exist. */
function readManifest(id: string): Manifest | null {
  try {
    const manifest = JSON.parse(fs.readFileSync(join(cacheDir(), `${id}.json`), 'utf8')) as Manifest;
    if (manifest.format === FORMAT && built(manifest)) return manifest;
  } catch {
    // No manifest yet, or a torn one.
  }
  return null;
}

async function cached(key: string, entries: Record<string, string>, runtime: RuntimeBundle | undefined): Promise<Manifest> {
  const now = freshNow(key);
  if (now !== null) return now;
  const id = idOf(key);
  const previous = memo.get(id);
  if (previous !== undefined) {
    const manifest = await previous.catch(() => undefined);
    if (manifest !== undefined && fresh(manifest)) return manifest;
  }
  const pending = build(id, entries, runtime);
  memo.set(id, pending);
  // Forgotten once done, unless a newer build of it started meanwhile (a source changed during this one).
  const done = (): void => void (memo.get(id) === pending && memo.delete(id));
  void pending.then(
    (manifest) => {
      done();
      known.set(id, manifest);
    },
    done,
  );
  return pending;
}

/** Builds bundle `id` into a directory of its own, and writes its manifest. */
async function build(id: string, entries: Record<string, string>, runtime: RuntimeBundle | undefined): Promise<Manifest> {
  const dir = cacheDir();
  const manifestFile = join(dir, `${id}.json`);
  const outdir = join(dir, `${id}-${process.pid}-${Date.now().toString(36)}-${(builds++).toString(36)}`);
  const manifest = await buildInto(entries, outdir, runtime);
  // Another process built the same bundle meanwhile from the same sources (a program's processes
  // starting together, a test runner's workers): its build is used, so that all of them run one
  // runtime and build their modules against it, and this one is dropped.
  const theirs = readManifest(id);
  if (theirs !== null && fresh(theirs)) {
    fs.rmSync(outdir, { recursive: true, force: true });
    return theirs;
  }
  // Written aside and renamed, so a concurrent reader sees all of it or none.
  const tmp = `${manifestFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(manifest));
  fs.renameSync(tmp, manifestFile);
  pruneSuperseded(dir, id, outdir);
  if (sweepDue(dir)) sweeping = sweepCache(dir);
  return manifest;
}

/** How long an older build of the same bundle is kept: processes started from it may still read it (a source map, the code cache). */
const SUPERSEDED_KEPT_MS = 60 * 60 * 1000;

/**
 * Removes the older builds of bundle `id` (each build has a directory of its
 * own) untouched for an hour: without this, every edit of a module left a
 * build behind for good.
 */
function pruneSuperseded(dir: string, id: string, current: string): void {
  const before = Date.now() - SUPERSEDED_KEPT_MS;
  try {
    for (const name of fs.readdirSync(dir)) {
      const path = join(dir, name);
      if (!name.startsWith(`${id}-`) || path === current) continue;
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (st?.isDirectory() && st.mtimeMs < before) fs.rmSync(path, { recursive: true, force: true });
    }
  } catch {
    // Only tidying: another process may be at it too.
  }
}

/**
 * Marks bundle `id` used now (its manifest's mtime), once per process: the
 * sweep takes a bundle's age from its last use, not from its build.
 */
function markUsed(id: string): void {
  const now = new Date();
  try {
    fs.utimesSync(join(cacheDir(), `${id}.json`), now, now);
  } catch {
    // A cache we cannot write to is swept by nobody either.
  }
}

/** A bundle of another cache format (another troupe, sharing this cache) is swept once unused this long. */
const OTHER_FORMAT_KEPT_MS = 30 * 24 * 60 * 60 * 1000;

/** The cache is swept of bundles no longer reachable at most this often (see sweepCache). */
const SWEEP_EVERY_MS = 24 * 60 * 60 * 1000;
const SWEEP_MARK = '.swept';
/** The last sweep this process began (for specs). */
export let sweeping: Promise<number> | null = null;

/** Whether a sweep is due: none in this cache for a day. Marks it begun, so other processes do not start one too. */
function sweepDue(dir: string): boolean {
  const mark = join(dir, SWEEP_MARK);
  const last = fs.statSync(mark, { throwIfNoEntry: false });
  if (last !== undefined && Date.now() - last.mtimeMs < SWEEP_EVERY_MS) return false;
  try {
    fs.writeFileSync(mark, '');
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes, from the cache, the bundles no program can use again, once they
 * have gone unused for an hour (a process started from one may still read
 * it): a bundle whose module was deleted or has changed since (a module
 * written to a temporary path, say), one whose runtime bundle is gone
 * (troupe changed), and a build left half done. A bundle of another cache
 * format, which another troupe sharing the cache may still use, goes once
 * unused for 30 days. A new build of a bundle removes its own older builds
 * (pruneSuperseded); this finds the rest. Run after a build, at most once a
 * day (sweepDue), without blocking the build's caller (a short program's
 * exit may wait for it, that once). Resolves with the number of bundles
 * removed.
 */
export async function sweepCache(dir = cacheDir(), now = Date.now()): Promise<number> {
  const { readdir, readFile, rm, stat } = fs.promises;
  /** How long since `path` was last changed (a manifest: since its bundle was last used); 0 if it is gone. */
  const age = async (path: string): Promise<number> => now - ((await stat(path).catch(() => undefined))?.mtimeMs ?? now);
  let removed = 0;
  try {
    const names = await readdir(dir);
    const manifests = new Set(names.filter((name) => /^[0-9a-f]{16}\.json$/.test(name)).map((name) => name.slice(0, 16)));
    const stale = new Set<string>();
    for (const id of manifests) {
      const file = join(dir, `${id}.json`);
      const unused = await age(file);
      if (unused < SUPERSEDED_KEPT_MS) continue;
      let manifest: Manifest | null = null;
      try {
        manifest = JSON.parse(await readFile(file, 'utf8')) as Manifest;
      } catch {
        // Torn or unreadable: stale.
      }
      if (manifest !== null && manifest.format !== FORMAT) {
        if (unused < OTHER_FORMAT_KEPT_MS) continue;
      } else if (manifest !== null && fresh(manifest) && built(manifest) && (manifest.runtime === undefined || fs.existsSync(manifest.runtime))) continue;
      stale.add(id);
      await rm(file, { force: true });
      removed++;
    }
    for (const name of names) {
      // A build's directory (`<id>-<pid>-<time>-<n>`) of a stale bundle, or of none (its build never finished), and temporary files left by a killed build.
      const id = /^([0-9a-f]{16})-/.exec(name)?.[1];
      const orphan = id !== undefined && (stale.has(id) || !manifests.has(id));
      if ((orphan || name.endsWith('.tmp')) && (await age(join(dir, name))) >= SUPERSEDED_KEPT_MS) await rm(join(dir, name), { recursive: true, force: true });
    }
  } catch {
    // Only tidying: another process may be at it too, or the cache is gone.
  }
  return removed;
}

function fresh(manifest: Manifest): boolean {
  for (const [path, mtimeMs, size] of manifest.inputs) {
    try {
      const st = fs.statSync(path);
      if (st.mtimeMs !== mtimeMs || st.size !== size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function buildInto(entries: Record<string, string>, outdir: string, runtime: RuntimeBundle | undefined): Promise<Manifest> {
  const esbuild = await import('esbuild');
  const common: import('esbuild').BuildOptions = {
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    metafile: true,
    write: true,
    logLevel: 'silent',
    absWorkingDir: '/',
    plugins: [externals(runtime), moduleFacts()],
  };
  const outputs: Record<string, string> = {};
  let metafile: import('esbuild').Metafile;
  let kernelInputs: string[] | undefined;
  if (runtime === undefined) {
    // A script, not a module, so that V8 can start it from a code cache (see runtimeMain).
    const script = async (entry: import('esbuild').BuildOptions, file: string, plugins: Plugin[]): Promise<{ names: string[]; encoding: 'latin1' | 'utf8'; metafile: import('esbuild').Metafile }> => {
      const result = await esbuild.build({
        ...common,
        ...entry,
        plugins,
        format: 'cjs',
        // import() of a builtin or a package becomes require(); ES modules are imported through import-url.ts.
        supported: { 'dynamic-import': false },
        outfile: file,
        // Read only when a stack with a frame of troupe's own is formatted (stacks.ts): the frame then
        // names troupe's source line, not the cache's bundle. No comment naming it: the script's last
        // line is the list of its exports (exportNames).
        sourcemap: 'external',
        sourcesContent: false,
        // A third less text for every actor process to read and copy into a string (about 1 ms of a
        // pool worker's start here); names are kept, and stacks are mapped through the map. Its
        // sections table is then empty: troupe's own actors name their modules (actorIn).
        minifyWhitespace: true,
        banner: { js: SECTIONS_PLACEHOLDER },
      });
      // A script has no import.meta: esbuild would make one that is empty, and the runtime would break as it loads.
      const meta = result.warnings.find((w) => w.text.includes(META));
      if (meta !== undefined) throw new Error(`the runtime bundle uses ${META} (${meta.location?.file}:${meta.location?.line}): ${meta.text}`);
      // Its map decoded once, here, for the actor processes that format a stack with its frames (stacks.ts).
      fs.writeFileSync(`${file}.map.bin`, LineMap.decode(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as RawMap).toBinary());
      // The kernel's modules as the actors layer imports them are only a line each: no sections of their own.
      writeSections(file, Object.keys(result.metafile!.inputs).filter((input) => !input.startsWith('troupe-kernel:')), pathToFileURL(file).href);
      const names = exportNames(file);
      // Wrapped as a CommonJS module once, here: each process compiles the file as it is, with no copy
      // made. The wrapper goes on the first line, so the line numbers stay true.
      const text = asciiOnly(fs.readFileSync(file, 'utf8'));
      fs.writeFileSync(file, `(function (exports, require, module, __filename, __dirname) {"use strict";${text}\n})`);
      return { names, encoding: /^[\x00-\x7f]*$/.test(text) ? 'latin1' : 'utf8', metafile: result.metafile! };
    };
    outputs.main = join(outdir, 'index.cjs');
    outputs.kernel = join(outdir, 'kernel', 'index.cjs');
    const modules = kernelModules();
    const listed = new Set(modules);
    // The actors layer first: the kernel's modules it imports are those the kernel must export.
    const imported = new Set<string>();
    const actorsScript = join(outdir, 'runtime.cjs');
    const actors = await script({ entryPoints: [entries.index!] }, actorsScript, [externals(undefined, null, { main: outputs.kernel, modules: listed, imported }), moduleFacts()]);
    fs.writeFileSync(outputs.main, runtimeMain(actorsScript, actors.encoding, { kernelMain: outputs.kernel }));
    // The kernel, exporting those modules by path (only those: the rest of it is shaken as usual).
    const exported = [...imported].sort();
    const kernelScript = join(outdir, 'kernel', 'runtime.cjs');
    const contents = [
      `export * from ${JSON.stringify(KERNEL_ENTRY)};`,
      ...exported.map((file, i) => `import * as m${i} from ${JSON.stringify(file)};`),
      `export const __troupeModules = { ${exported.map((file, i) => `${JSON.stringify(file)}: m${i}`).join(', ')} };`,
    ].join('\n');
    const kernel = await script({ stdin: { contents, resolveDir: dirname(KERNEL_ENTRY), sourcefile: 'troupe-kernel-entry.js', loader: 'js' } }, kernelScript, [externals(undefined), moduleFacts()]);
    kernelInputs = Object.keys(kernel.metafile.inputs).map((input) => resolve('/', input)).filter((path) => isOwnSource(path) && fs.existsSync(path));
    const unlisted = kernelInputs.find((path) => !listed.has(path));
    if (unlisted !== undefined) throw new Error(`the kernel bundle holds ${unlisted}, which kernelModules() does not list: the actors layer would hold a second copy`);
    // The modules of the actors layer, as their actors are registered (see moduleFacts).
    const ownInputs = new Set(kernelInputs);
    const actorsModules = Object.keys(actors.metafile.inputs)
      .map((input) => resolve('/', input))
      .filter((path) => isOwnSource(path) && !ownInputs.has(path) && fs.existsSync(path))
      .map((path) => pathToFileURL(path).href);
    const names = [...new Set([...kernel.names, ...actors.names])];
    const own = new Set(kernel.names);
    fs.writeFileSync(outputs.kernel, runtimeMain(kernelScript, kernel.encoding, { actorsMain: outputs.main, actorsModules, actorsNames: names.filter((name) => !own.has(name)) }));
    outputs.index = join(outdir, 'index.mjs');
    fs.writeFileSync(outputs.index, runtimeModule(outputs.main, names));
    metafile = { inputs: { ...kernel.metafile.inputs, ...actors.metafile.inputs }, outputs: {} };
  } else {
    // An actor bundle loads the runtime, the module, and says it has loaded; a module bundle only loads the module.
    const isActor = entries.actor !== undefined;
    const file = (entries.actor ?? entries.module)!;
    // A module of troupe's own is in the runtime already: loading the runtime loads it.
    const load = runtime.sources.has(file) ? '' : `import ${JSON.stringify(file)};\n`;
    const contents = isActor ? `import { __troupeLoaded } from 'troupe:runtime';\n${load}__troupeLoaded();\n` : load;
    const bundle = async (format: 'cjs' | 'esm', plugins: Plugin[]): Promise<{ out: string; result: import('esbuild').BuildResult }> => {
      const out = join(outdir, `${isActor ? 'actor' : 'module'}.${format === 'cjs' ? 'cjs' : 'mjs'}`);
      const result = await esbuild.build({
        ...common,
        format,
        plugins,
        stdin: { contents, resolveDir: dirname(file), sourcefile: 'troupe-actor-entry.js', loader: 'js' },
        outfile: out,
        sourcemap: 'linked',
        // Functions and classes keep their names where bundling renames them (`actor(async function kid()
        // {})` bound to `const kid` became kid2): an actor's name comes from its behaviour's, and must
        // read the same in the process that spawns it as in the program that defined it.
        keepNames: true,
        // Filled in after the build with the table of which lines came from which module (see below).
        // Strict, as the ES modules it was built from are.
        banner: { js: format === 'cjs' ? `"use strict";${SECTIONS_PLACEHOLDER}` : SECTIONS_PLACEHOLDER },
      });
      return { out, result };
    };
    // CommonJS where the module allows it: a process that loads only CommonJS never starts Node's ES
    // module loader (about 7 ms of an actor's start, 5 of a pool worker's first task, here). Not for
    // a top-level await, an import.meta it reads beyond its url, dirname and filename, a package
    // that is an ES module, or CommonJS's own names looked for (COMMONJS_IDIOM): those stay ES modules.
    const cjs = { esm: null as string | null };
    let built = await bundle('cjs', [externals(runtime, cjs), moduleFacts(true, cjs)]).catch(() => null);
    if (built !== null && (cjs.esm !== null || built.result.warnings.some((w) => w.text.includes(META)))) {
      fs.rmSync(built.out, { force: true });
      fs.rmSync(`${built.out}.map`, { force: true });
      built = null;
    }
    built ??= await bundle('esm', [externals(runtime), moduleFacts(true)]);
    outputs[isActor ? 'actor' : 'module'] = built.out;
    metafile = built.result.metafile!;
    writeSections(built.out, Object.keys(metafile.inputs), built.out.endsWith('.cjs') ? pathToFileURL(built.out).href : null);
  }
  const inputs: Manifest['inputs'] = [];
  for (const input of Object.keys(metafile.inputs)) {
    const path = resolve('/', input);
    if (!fs.existsSync(path)) continue;
    const st = fs.statSync(path);
    inputs.push([path, st.mtimeMs, st.size]);
  }
  return runtime === undefined ? { format: FORMAT, outputs, inputs, kernel: kernelInputs } : { format: FORMAT, outputs, inputs, runtime: runtime.index };
}

const SECTIONS_PLACEHOLDER = '/*troupe-sections*/';

/**
 * Writes into a bundle's first line which of its lines came from which source
 * module: esbuild starts each module's code with a `// path` comment. `actor()`
 * reads the table to know the module that called it (behaviour.ts). The
 * table replaces a one-line banner, so the source map's lines stay true.
 */
function writeSections(file: string, inputs: string[], url: string | null): void {
  const known = new Set(inputs);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const sections: [number, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('// ') && known.has(line.slice(3))) sections.push([i + 1, pathToFileURL(resolve('/', line.slice(3))).href]);
  }
  if (!lines[0]!.includes(SECTIONS_PLACEHOLDER)) throw new Error(`bundle ${file} does not start with its sections placeholder`);
  const key = url === null ? `${META}.url` : JSON.stringify(url);
  lines[0] = lines[0]!.replace(SECTIONS_PLACEHOLDER, `(globalThis[Symbol.for('troupe.bundle-sections')] ??= new Map()).set(${key}, ${JSON.stringify(sections)});`);
  fs.writeFileSync(file, lines.join('\n'));
}

/**
 * The runtime's text with what is not ASCII written as `\uXXXX` escapes. esbuild
 * escapes it in strings, templates, regular expressions and identifiers
 * already; what is left is in comments, where an escape means nothing. A
 * line or paragraph separator stays (it ends a `//` comment): the text is
 * then read as UTF-8, as before.
 */
function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether `path` is one of troupe's own files (not a package's), wherever troupe itself is installed. */
export function isOwnSource(path: string, root = TROUPE_ROOT): boolean {
  return path.startsWith(root + sep) && !path.slice(root.length).includes(`${sep}node_modules${sep}`);
}

/**
 * The modules of the kernel layer: every module of runtime/ but the actors
 * layer's entry, and the pool worker (kernel-entry.ts imports it). The
 * kernel exports each by path; the actors layer imports them so.
 */
function kernelModules(): string[] {
  const dir = join(TROUPE_ROOT, 'runtime');
  const files = (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(dir, name))
    .filter((file) => file !== RUNTIME_ENTRY);
  return [...files, join(TROUPE_ROOT, 'actors', 'pool', 'worker.ts')].sort();
}

/** The names a CommonJS bundle exports: esbuild lists them at its end for Node's ESM import of it. */
function exportNames(script: string): string[] {
  const text = fs.readFileSync(script, 'utf8');
  const list = /(?:^|[\n;])0\s*&&\s*\(module\.exports\s*=\s*\{([^}]*)\}\);?\s*$/.exec(text);
  if (list === null) throw new Error(`the runtime bundle ${script} does not end with the list of its exports`);
  // Names only: a re-export of a CommonJS module (the actors layer's of the kernel's) is listed as a spread.
  return list[1]!.split(',').map((name) => name.trim()).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name));
}

/**
 * A layer of the runtime bundle as actor processes start from it: a CommonJS
 * module that runs the layer's script through V8's code cache and exports it.
 * Node 20 caches no compiled code for modules, and compiling the runtime
 * (about 400 KB) was most of loading it. The first process that starts
 * without a usable cache writes one as soon as its actor is ready (host.ts),
 * with the functions compiled by then; V8 checks it and compiles afresh if
 * it does not match this node, these flags or this script. CommonJS, not an
 * ES module: a process whose entry is an ES module starts Node's ES module
 * loader first, which took a pool worker about 7 ms of its start here; a
 * worker whose tasks are CommonJS bundles (moduleBundle) never starts it.
 *
 * The kernel's (`actorsMain` given) lends the script an import() and tells
 * the process where the actors layer is and which modules are its
 * (import-url.ts), and which build it runs from (host.ts); the
 * actors layer's (`kernelMain` given) loads the kernel first, whose modules
 * its script imports.
 */
function runtimeMain(
  script: string,
  encoding: 'latin1' | 'utf8',
  layer: { actorsMain: string; actorsModules: string[]; actorsNames: string[] } | { kernelMain: string },
): string {
  const kernel = 'actorsMain' in layer;
  // How this process got the layer (specs read it): the kernel's under its own name, which came first.
  const state = kernel ? 'troupe.code-cache' : 'troupe.code-cache.actors';
  const url = pathToFileURL(script).href;
  return `'use strict';
const file = ${JSON.stringify(script)};
const { readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');
// One cache per node and per set of node flags: V8 takes a cache only from the same node with the same flags.
let flags = 0x811c9dc5;
for (const c of \`\${process.execArgv.join(' ')}\\0\${process.env.NODE_OPTIONS ?? ''}\`) flags = Math.imul(flags ^ c.charCodeAt(0), 0x01000193);
const cacheFile = \`\${file}.\${process.version}-\${process.arch}-\${(flags >>> 0).toString(16)}.v8cache\`;
// None under coverage (V8's coverage is less precise in code from a cache), nor when Node's own compile
// cache is turned off (NODE_DISABLE_COMPILE_CACHE, its escape hatch from Node 22 on).
const useCache = !process.env.NODE_V8_COVERAGE && !process.env.NODE_DISABLE_COMPILE_CACHE;
let cachedData;
// The cache file as this process found it: one another process writes later differs from it.
let seen;
try {
  if (useCache) {
    seen = statSync(cacheFile);
    cachedData = readFileSync(cacheFile);
  }
} catch {}
// Where the runtime's stack frames are (stacks.ts maps them through the script's source map).
(globalThis[Symbol.for('troupe.runtime-scripts')] ??= []).push(${JSON.stringify(url)});
${
  kernel
    ? `// A script run by vm has no import() in Node 20: this module lends its own (import-url.ts), and its require() (fs.ts).
globalThis[Symbol.for('troupe.import')] = (url) => import(url);
globalThis[Symbol.for('troupe.require')] ??= require;
// The build this process runs from, which it keeps from being swept while it lives (host.ts).
globalThis[Symbol.for('troupe.runtime-build')] ??= ${JSON.stringify(dirname(dirname(script)))};
// The actors layer and its modules, for a process that comes to need them (unless that layer is
// loading already: it loads this first).
if (globalThis[Symbol.for('troupe.actors-layer')] === undefined) {
  globalThis[Symbol.for('troupe.actors-layer')] = ${JSON.stringify(layer.actorsMain)};
  globalThis[Symbol.for('troupe.actors-modules')] = new Set(${JSON.stringify(layer.actorsModules)});
}`
    : `globalThis[Symbol.for('troupe.actors-layer')] = null;
const kernel = require(${JSON.stringify(layer.kernelMain)});`
}
// Read as latin1 when it is all ASCII (the same text): Node then skips decoding UTF-8, about 1 ms of 400 KB here.
const script = new Script(readFileSync(file, ${JSON.stringify(encoding)}), { filename: ${JSON.stringify(url)}, cachedData });
// This module's own require and module: it sits beside the script, so it resolves what the script requires alike.
script.runInThisContext()(module.exports, require, module, file, ${JSON.stringify(dirname(script))});
${kernel ? `// What the script exported (it sets module.exports).\nconst kernel = module.exports;\n${runtimeFacade(layer.actorsMain, layer.actorsNames)}` : ''}globalThis[Symbol.for(${JSON.stringify(state)})] = { file: cacheFile, state: !useCache ? 'off' : cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'used', encoding: ${JSON.stringify(encoding)} };
${kernel ? '' : `kernel.__troupeMapStacks(${JSON.stringify(url)});\n`}if (useCache && (cachedData === undefined || script.cachedDataRejected)) {
  kernel.__troupeCodeCache(() => {
    // Another process wrote one since this one looked (no clock compared: a file's, or this one's, may be off): not needed.
    const now = statSync(cacheFile, { throwIfNoEntry: false });
    if (now !== undefined && (seen === undefined || now.ino !== seen.ino || now.mtimeMs !== seen.mtimeMs || now.size !== seen.size)) return;
    const tmp = \`\${cacheFile}.\${process.pid}.tmp\`;
    try {
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      rmSync(tmp, { force: true });
    }
  });
}
`;
}

/**
 * troupe's public entry as CommonJS bundles require it (an actor's, a pool
 * task's): the kernel's main module, its exports the kernel's names and the
 * actors layer's, which loads that layer as one of them is first read. An
 * actor whose module uses only the kernel's API never loads the actors
 * layer. No file of its own: a require() fewer as each actor starts (about
 * 0.6 ms of a pool worker's first task here).
 */
function runtimeFacade(actorsMain: string, actorsNames: string[]): string {
  return `// troupe's public entry as CommonJS bundles require it: the actors layer's names too, that layer loaded on first use.
let actors;
for (const name of ${JSON.stringify(actorsNames)}) Object.defineProperty(kernel, name, { enumerable: true, get: () => (actors ??= require(${JSON.stringify(actorsMain)}))[name] });
`;
}

/**
 * The runtime as ES modules import it (actor bundles, ES module bundles): the
 * CommonJS module's exports by name. Node loads a CommonJS module once per
 * process however it is reached, so a process started from `main` that then
 * imports this gets the runtime it runs, not a second one.
 */
function runtimeModule(main: string, names: string[]): string {
  return `import runtime from ${JSON.stringify(pathToFileURL(main).href)};
export const { ${names.join(', ')} } = runtime;
`;
}

/**
 * Packages and builtins stay imports, pinned to the files they resolve to
 * now (so the bundle can live anywhere); troupe's own entry becomes the
 * runtime bundle's, so a child runs one copy of the runtime. For a CommonJS
 * bundle, `esm` is set when a package it would require() is an ES module
 * (Node 20 cannot require one): the bundle is then built as an ES module.
 */
function externals(
  runtime: RuntimeBundle | undefined,
  cjs: { esm: string | null } | null = null,
  kernel?: { main: string; modules: ReadonlySet<string>; imported: Set<string> },
): Plugin {
  // A package's file as a CommonJS bundle requires it (a path) or an ES module imports it (a URL).
  const pinned = (path: string, kind: string): string => {
    if (cjs === null || kind === 'dynamic-import') return pathToFileURL(path).href;
    if (isEsm(path)) cjs.esm ??= path;
    return path;
  };
  // The runtime as each kind of bundle loads it: the ES module over its CommonJS module, or for a
  // CommonJS bundle the kernel's main module (see runtimeFacade): the actors layer is loaded only if the module uses it.
  const troupe = (kind: string): OnResolveResult => ({ path: cjs === null || kind === 'dynamic-import' ? pathToFileURL(runtime!.index).href : runtime!.kernel, external: true });
  return {
    name: 'troupe-externals',
    setup(build) {
      // Only the encoder and decoder: the package's streams and iterators are not needed.
      build.onLoad({ filter: /^msgpackr$/, namespace: 'troupe-msgpackr' }, () => ({
        contents: "export { Packr, addExtension } from './pack.js'; export { Unpackr } from './unpack.js';",
        resolveDir: dirname(packageFile('msgpackr', 'package.json')),
        loader: 'js',
      }));
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === 'troupe-resolving') return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        if (runtime !== undefined && args.path === 'troupe:runtime') return troupe(args.kind);
        if (runtime === undefined) {
          // The runtime bundle carries its own small dependencies, so an actor
          // process parses one file, not a package tree. msgpackr comes in as
          // its plain JS build: its native addon costs more to load than it saves here.
          if (args.path === 'msgpackr') return { path: 'msgpackr', namespace: 'troupe-msgpackr' };
          if (args.path !== 'esbuild') return undefined;
        }
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'troupe-resolving' });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external) return { path: resolved.path, external: true };
        // troupe's entry: the runtime this process runs (runtimeMain, or for an ES module the module over it).
        if (runtime !== undefined && (resolved.path === TROUPE_INDEX || resolved.path === KERNEL_INDEX)) return troupe(args.kind);
        // The runtime script require()s its packages by path.
        if (resolved.path.includes(`${sep}node_modules${sep}`)) return { path: runtime === undefined ? resolved.path : pinned(resolved.path, args.kind), external: true };
        return { path: resolved.path };
      });
      if (kernel === undefined) return;
      // The actors layer: a module of the kernel's is the kernel script's (see runtimeMain), never a copy.
      build.onResolve({ filter: /.*/, namespace: 'troupe-kernel' }, (args) => ({ path: args.path, external: true }));
      build.onResolve({ filter: /^\./ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === 'troupe-resolving') return undefined;
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'troupe-resolving' });
        if (!kernel.modules.has(resolved.path)) return undefined;
        kernel.imported.add(resolved.path);
        return { path: resolved.path, namespace: 'troupe-kernel' };
      });
      build.onLoad({ filter: /.*/, namespace: 'troupe-kernel' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(kernel.main)}).__troupeModules[${JSON.stringify(args.path)}];`,
        loader: 'js',
      }));
    },
  };
}

/** Whether Node loads `file` as an ES module: `.mjs`, or `.js` in a package of `"type": "module"`. */
function isEsm(file: string): boolean {
  if (file.endsWith('.mjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (dirname(dir) === dir) return false;
  }
}

/**
 * `import.meta`, spelt so that this file's own text does not hold it: this
 * file is bundled into the runtime through moduleFacts too, and a bundle
 * built in an actor process runs that copy.
 */
const META = ['import', 'meta'].join('.');

const LOADERS: Record<string, 'ts' | 'tsx' | 'js' | 'jsx'> = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' };

/**
 * What an ES module may read of CommonJS, which it would find in a CommonJS
 * bundle and not where it was written: `__dirname`, `__filename`, `typeof
 * require` (module, exports, arguments), `module.x`, `exports.x`,
 * `require.x` (`?.` and `[ ]` too), and direct `eval`, which can read any of
 * them. A match keeps the module an ES module, which is only slower when it
 * was harmless: a `const __dirname` of its own, a comment, a variable named
 * `module`.
 */
const COMMONJS_IDIOM =
  /\b__dirname\b|\b__filename\b|\btypeof\s*\(*\s*(?:require|module|exports|arguments)\b|(?<![\w$.])(?:module|exports|require)\s*(?:\?\.|\.|\[)|(?<![\w$.])eval\s*\(/;

/**
 * Keeps what a module knows of itself true after bundling: `import.meta.url`
 * (and `dirname`/`filename`) name the source file, not the bundle. In an
 * actor's or a task's bundle, `isMain(import.meta)` is `false`, as it always
 * is in an actor process (the module is loaded there, never run as the
 * program): the program's own block under it (often with a top-level await)
 * is dropped, and the module can be CommonJS.
 */
function moduleFacts(inActor = false, cjs: { esm: string | null } | null = null): Plugin {
  return {
    name: 'troupe-module-facts',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`) && !args.path.startsWith(TROUPE_ROOT + sep)) return undefined;
        const url = JSON.stringify(pathToFileURL(args.path).href);
        let contents = fs.readFileSync(args.path, 'utf8');
        if (inActor) contents = contents.replaceAll(`isMain(${META})`, 'false');
        const loader = LOADERS[extname(args.path)] ?? 'js';
        // An ES module that looks for CommonJS's names (a dual-format idiom) would find the bundle's in
        // a CommonJS bundle, where as an ES module it finds none: it stays an ES module. Looked for in
        // its code without comments ("… of a module." is not module.x).
        if (cjs !== null && cjs.esm === null && !/\.c[jt]s$/.test(args.path)) {
          const code = (await build.esbuild.transform(contents, { loader, minifyWhitespace: true, logLevel: 'silent' }).catch(() => null))?.code ?? contents;
          const idiom = COMMONJS_IDIOM.exec(code);
          if (idiom !== null) cjs.esm = `${args.path} (${idiom[0]})`;
        }
        contents = contents
          .replaceAll(`${META}.url`, url)
          .replaceAll(`${META}.dirname`, JSON.stringify(dirname(args.path)))
          .replaceAll(`${META}.filename`, JSON.stringify(args.path));
        return { contents, loader };
      });
    },
  };
}
