/**
 * Compiles actor modules once, in the spawning process, so an actor process
 * starts as plain JavaScript: loading a TypeScript loader in every child costs
 * about three times a bare `fork`.
 *
 * Two kinds of bundle, each cached on disk and reused until one of its source
 * files changes:
 * - the runtime bundle: troupe's public entry and the actor-process host,
 *   sharing one chunk, so an actor module that imports troupe gets the very
 *   runtime instance that hosts it;
 * - an actor bundle per actor module: the module and its local imports, with
 *   troupe mapped to the runtime bundle and packages left as imports of their
 *   installed files.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

// Bump when the bundles' shape changes, so old caches are not reused.
const FORMAT = 3;

/** troupe's own source root (this file is runtime/process/bundle.ts). */
export const TROUPE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TROUPE_INDEX = join(TROUPE_ROOT, 'index.ts');
const MSGPACKR_DIR = dirname(packageFile('msgpackr', 'package.json'));

/** A file inside an installed package, found from the package's resolved entry. */
function packageFile(name: string, file: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
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
}

export interface RuntimeBundle {
  /** The actor-process entry. */
  readonly host: string;
  /** troupe's public entry, as the actor bundles import it. */
  readonly index: string;
}

const memo = new Map<string, Promise<Manifest>>();
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
  const dir = existsSync(local) ? join(local, '.cache', 'troupe') : join(tmpdir(), `troupe-cache-${userInfo().uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The runtime bundle, built on first use and reused while its sources are unchanged. */
export async function runtimeBundle(): Promise<RuntimeBundle> {
  const manifest = await cached('runtime', { index: TROUPE_INDEX, host: join(TROUPE_ROOT, 'runtime', 'process', 'host.ts') }, undefined);
  return { host: manifest.outputs.host!, index: manifest.outputs.index! };
}

/** The bundle of one actor module (a file URL or path); resolves to the file to import. */
export async function actorBundle(moduleUrl: string): Promise<string> {
  const file = moduleUrl.startsWith('file:') ? fileURLToPath(moduleUrl) : resolve(moduleUrl);
  const runtime = await runtimeBundle();
  const manifest = await cached(`actor:${file}:${runtime.index}`, { actor: file }, runtime.index);
  return manifest.outputs.actor!;
}

async function cached(key: string, entries: Record<string, string>, runtimeIndex: string | undefined): Promise<Manifest> {
  const id = hashKey(`${FORMAT}\0${key}`);
  const previous = memo.get(id);
  if (previous !== undefined) {
    const manifest = await previous.catch(() => undefined);
    if (manifest !== undefined && fresh(manifest)) return manifest;
  }
  const pending = load(id, entries, runtimeIndex);
  memo.set(id, pending);
  pending.catch(() => memo.delete(id));
  return pending;
}

async function load(id: string, entries: Record<string, string>, runtimeIndex: string | undefined): Promise<Manifest> {
  const dir = cacheDir();
  const manifestFile = join(dir, `${id}.json`);
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    if (manifest.format === FORMAT && fresh(manifest) && Object.values(manifest.outputs).every((f) => existsSync(f))) return manifest;
  } catch {
    // No manifest yet, or a torn one: build.
  }
  const outdir = join(dir, `${id}-${process.pid}-${Date.now().toString(36)}-${(builds++).toString(36)}`);
  const manifest = await build(entries, outdir, runtimeIndex);
  // Written aside and renamed, so a concurrent reader sees all of it or none.
  const tmp = `${manifestFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(manifest));
  renameSync(tmp, manifestFile);
  return manifest;
}

function fresh(manifest: Manifest): boolean {
  for (const [path, mtimeMs, size] of manifest.inputs) {
    try {
      const st = statSync(path);
      if (st.mtimeMs !== mtimeMs || st.size !== size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function build(entries: Record<string, string>, outdir: string, runtimeIndex: string | undefined): Promise<Manifest> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: entries,
    outdir,
    bundle: true,
    splitting: runtimeIndex === undefined,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: runtimeIndex === undefined ? false : 'linked',
    metafile: true,
    write: true,
    logLevel: 'silent',
    outExtension: { '.js': '.mjs' },
    // The runtime is parsed by every actor process: keep it small (names stay readable).
    minifyWhitespace: runtimeIndex === undefined,
    minifySyntax: runtimeIndex === undefined,
    plugins: [externals(runtimeIndex), moduleFacts()],
  });
  const outputs: Record<string, string> = {};
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === undefined) continue;
    const name = Object.keys(entries).find((k) => resolve(entries[k]!) === resolve(meta.entryPoint!));
    if (name !== undefined) outputs[name] = resolve(out);
  }
  const inputs: Manifest['inputs'] = [];
  for (const input of Object.keys(result.metafile.inputs)) {
    const path = resolve(input);
    if (!existsSync(path)) continue;
    const st = statSync(path);
    inputs.push([path, st.mtimeMs, st.size]);
  }
  return { format: FORMAT, outputs, inputs };
}

/**
 * Packages and builtins stay imports, pinned to the files they resolve to
 * now (so the bundle can live anywhere); troupe's own entry becomes the
 * runtime bundle's, so a child runs one copy of the runtime.
 */
function externals(runtimeIndex: string | undefined): Plugin {
  return {
    name: 'troupe-externals',
    setup(build) {
      // Only the encoder and decoder: the package's streams and iterators are not needed.
      build.onLoad({ filter: /^msgpackr$/, namespace: 'troupe-msgpackr' }, () => ({
        contents: "export { Packr, addExtension } from './pack.js'; export { Unpackr } from './unpack.js';",
        resolveDir: MSGPACKR_DIR,
        loader: 'js',
      }));
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === 'troupe-resolving') return undefined;
        if (isBuiltin(args.path)) return { path: args.path, external: true };
        const isBare = !args.path.startsWith('.') && !args.path.startsWith('/') && !args.path.startsWith('file:');
        if (runtimeIndex === undefined) {
          // The runtime bundle carries its own small dependencies, so an actor
          // process parses one file, not a package tree. msgpackr comes in as
          // its plain JS build: its native addon costs more to load than it saves here.
          if (args.path === 'msgpackr') return { path: 'msgpackr', namespace: 'troupe-msgpackr' };
          if (args.path !== 'esbuild') return undefined;
        }
        const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'troupe-resolving' });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        if (resolved.external) return { path: resolved.path, external: true };
        if (runtimeIndex !== undefined && resolved.path === TROUPE_INDEX) return { path: pathToFileURL(runtimeIndex).href, external: true };
        if (resolved.path.includes(`${sep}node_modules${sep}`)) return { path: pathToFileURL(resolved.path).href, external: true };
        return { path: resolved.path };
      });
    },
  };
}

const LOADERS: Record<string, 'ts' | 'tsx' | 'js' | 'jsx'> = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.jsx': 'jsx' };

/**
 * Keeps what a module knows of itself true after bundling: `import.meta.url`
 * (and `dirname`/`filename`) name the source file, not the bundle.
 */
function moduleFacts(): Plugin {
  return {
    name: 'troupe-module-facts',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`) && !args.path.startsWith(TROUPE_ROOT + sep)) return undefined;
        const contents = readFileSync(args.path, 'utf8')
          .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
          .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
          .replaceAll('import.meta.filename', JSON.stringify(args.path));
        return { contents, loader: LOADERS[extname(args.path)] ?? 'js' };
      });
    },
  };
}
